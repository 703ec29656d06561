"""Idempotent submission for the API: the same Idempotency-Key and body within 24 h return the first
answer and create no job; the same key with another body is a conflict. Only the API imports this."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from bulksms import runtime
from bulksms.adapters import aws
from bulksms.models import SendRequest
from bulksms.service.submission import Limits, dry_run, submit
from bulksms.settings import settings

IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="request", expires_after_seconds=86_400
)


@cache
def _submit_once() -> Callable[..., dict[str, Any]]:
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expires_at",
        boto3_client=aws.dynamodb_client(),
    )

    @idempotent_function(
        data_keyword_argument="submission", config=IDEMPOTENCY, persistence_store=persistence
    )
    def submit_once(submission: dict[str, Any]) -> dict[str, Any]:
        return _submit(SendRequest.model_validate(submission["request"]))

    return submit_once


def _submit(request: SendRequest) -> dict[str, Any]:
    return submit(
        request, runtime.store(), runtime.send_queue(), limits(), runtime.scheduler(), runtime.suppressions()
    )


def limits() -> Limits:
    config, provider = settings(), runtime.provider()
    return Limits(
        min(config.chunk_size, provider.max_numbers_per_request),
        config.chunks_per_message,
        config.max_recipients,
        config.max_parts,
        refusal=provider.refusal,
    )


def submit_idempotently(request: SendRequest, key: str | None) -> dict[str, Any]:
    """Same key and body within 24 h: the first answer again, no new job. Same key, other body: conflict."""
    if request.dry_run:  # writes nothing, so it keeps no idempotency record either
        return dry_run(request, limits(), runtime.suppressions())
    if not key:
        return _submit(request)
    return _submit_once()(submission={"key": key, "request": request.model_dump(mode="json", by_alias=True)})


def register_context(context: Any) -> None:
    IDEMPOTENCY.register_lambda_context(context)
