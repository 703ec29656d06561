"""Idempotent submission for the API: the same Idempotency-Key and body within 24 h return the first
answer and create no job; the same key with another body is a conflict. Only the API's POST
/v1/messages imports this (the other routes' cold starts need neither it nor powertools' idempotency).

The powertools record holds only `{"job_id"}`: the answer is rebuilt from the job, so the record fits
a DynamoDB item whatever the body's size. Nothing raises once the job exists, so the record is always
completed. A process that dies in between (timeout, out of memory) leaves the record in progress;
when it expires the request runs again, and finds the job it had created: the job id is derived from
the key and the body, so the run cannot create a second job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from bulksms import runtime
from bulksms.adapters import aws
from bulksms.domain.job import Job
from bulksms.domain.status import JobStatus
from bulksms.models import SendRequest
from bulksms.service.errors import RequestError
from bulksms.service.lifecycle import age_seconds, requeue_pending
from bulksms.service.submission import Limits, accepted_answer, dry_run, submit
from bulksms.settings import settings

logger = Logger(child=True)

WINDOW_S = 86_400
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="request", expires_after_seconds=WINDOW_S
)
# A job younger than this, found under the id a run derives, was made by an earlier run of the same
# record (one that died): the record is created before the job and lives WINDOW_S.
_SAME_RECORD_S = WINDOW_S - 120


@cache
def _submit_once() -> Callable[..., dict[str, Any]]:
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().table_name,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expires_at",
        boto3_client=aws.dynamodb_client(),
    )

    # Wrapped by call, not as a decorator: powertools types idempotent_function's result as Any.
    submit_once: Callable[..., dict[str, Any]] = idempotent_function(
        _submit_recorded,
        data_keyword_argument="submission",
        config=IDEMPOTENCY,
        persistence_store=persistence,
    )
    return submit_once


def _submit_recorded(submission: dict[str, Any]) -> dict[str, Any]:
    """What the idempotency record keeps: the job id of the key and body's job."""
    request = SendRequest.model_validate(submission["request"])
    job_id, earlier = _job_for(submission["key"], submission["request"])
    if earlier is None:
        _submit(request, job_id)
    else:
        _resume(earlier)
    return {"job_id": job_id}


def _submit(request: SendRequest, job_id: str | None = None) -> str:
    return submit(
        request,
        runtime.store(),
        runtime.send_queue(),
        limits(),
        runtime.scheduler(),
        runtime.suppressions(),
        job_id=job_id,
    )


def _job_for(key: str, request: Mapping[str, Any]) -> tuple[str, Job | None]:
    """The id this run's job gets, and the job if an earlier run of the same record created it.

    Ids are numbered per key and body: a job older than the record is an earlier 24 h window's, so
    the next number is tried.
    """
    body = hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    for generation in range(10_000):
        job_id = hashlib.sha256(f"{generation}\0{key}\0{body}".encode()).hexdigest()[:32]
        job = runtime.store().get_job(job_id)
        if job is None or age_seconds(job.created_at) < _SAME_RECORD_S:
            return job_id, job
    raise RuntimeError("an Idempotency-Key reused more than 10,000 times with the same body")


def _resume(job: Job) -> None:
    """An earlier run died after creating the job, maybe before queueing (or scheduling) it: queue what
    is pending, or create its schedule."""
    job_id = job.job_id
    if job.stop:
        return
    if job.status is JobStatus.SCHEDULED and job.send_at:
        runtime.scheduler().schedule_start(job_id, datetime.fromisoformat(job.send_at))
        logger.warning("idempotent retry resumed an interrupted scheduled job", extra={"job_id": job_id})
        return
    if job.status not in (JobStatus.QUEUED, JobStatus.SENDING):
        return
    requeued = requeue_pending(
        runtime.send_queue(), job_id, runtime.store().job_chunks(job_id), settings().chunks_per_message
    )
    logger.warning(
        "idempotent retry resumed an interrupted job", extra={"job_id": job_id, "chunks": requeued}
    )


def limits() -> Limits:
    config, provider = settings(), runtime.provider()
    return Limits(
        min(config.chunk_size, provider.max_numbers_per_request),
        config.chunks_per_message,
        config.max_recipients,
        config.max_parts,
        refusal=provider.refusal,
        callback_hosts_allowed=config.webhook_allowed_hosts,
    )


def submit_idempotently(request: SendRequest, key: str | None) -> dict[str, Any]:
    """Same key and body within 24 h: the first answer again, no new job. Same key, other body: conflict."""
    if request.dry_run:  # writes nothing, so it keeps no idempotency record either
        return dry_run(request, limits(), runtime.suppressions())
    if not key:
        job_id = _submit(request)
    else:
        dumped = request.model_dump(mode="json", by_alias=True)
        try:
            job_id = _submit_once()(submission={"key": key, "request": dumped})["job_id"]
        except IdempotencyValidationError as error:
            message = "this Idempotency-Key was used with a different body"
            raise RequestError("Idempotency-Key", message, code="idempotency_conflict", status=409) from error
        except IdempotencyAlreadyInProgressError as error:
            message = "a request with this Idempotency-Key is still running; retry shortly"
            raise RequestError(
                "Idempotency-Key", message, code="idempotency_in_progress", status=409
            ) from error
    return accepted_answer(runtime.store(), job_id)


def register_context(context: Any) -> None:
    IDEMPOTENCY.register_lambda_context(context)
