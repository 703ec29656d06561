"""The container's shared objects, each built once on first use from settings.

Every handler imports this module and each builds only its own few objects, so every factory but
the store's and the queues' (which nearly every route uses) imports what it builds: a cold start pays
only for what its function uses (bench phase 3), and the API's job routes not for the suppression list
or the scheduler.
"""

from __future__ import annotations

import contextvars
import hmac
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from bulksms.adapters.queue import SqsQueue, SqsSendQueue
from bulksms.adapters.store import Store
from bulksms.settings import settings

if TYPE_CHECKING:
    from bulksms.adapters.scheduler import JobScheduler
    from bulksms.domain.message import Credentials
    from bulksms.domain.ports import SendRate
    from bulksms.domain.provider import Provider
    from bulksms.service.inbound import Inbound
    from bulksms.service.notify import StatusCallbackDeliverer, StatusNotifier
    from bulksms.service.sending import Sender
    from bulksms.service.suppressions import SuppressionList

SECRET_MAX_AGE_S = 300  # rotated credentials are picked up within five minutes


@cache
def store() -> Store:
    return Store(settings().table_name, settings().retention_days)


@cache
def suppressions() -> SuppressionList:
    from bulksms.adapters.suppressions import SuppressionTable
    from bulksms.service.suppressions import SuppressionList

    return SuppressionList(SuppressionTable(settings().table_name), executor())


@cache
def inbound() -> Inbound:
    from bulksms.adapters.inbound import InboundTable
    from bulksms.service.confirmation import OptOutConfirmation
    from bulksms.service.inbound import Inbound

    config = settings()
    url = config.inbound_webhook_url

    def webhook(message: Mapping[str, Any]) -> None:
        # Queued like a status callback: delivered by the webhook function, SSRF-checked and signed.
        body = json.dumps(message, separators=(",", ":"), default=str)
        webhook_queue().send([{"mo_message_id": str(message["mo_message_id"]), "url": url, "body": body}])

    text = config.opt_out_confirmation_text
    return Inbound(
        InboundTable(config.table_name),
        suppressions(),
        config.retention_days * 86_400,
        webhook=webhook if url else None,
        confirm=OptOutConfirmation.of_text(provider(), text, config.max_parts).send if text else None,
    )


@cache
def send_queue() -> SqsSendQueue:
    return SqsSendQueue(settings().send_queue_url)


P = ParamSpec("P")
T = TypeVar("T")


class _ContextExecutor(ThreadPoolExecutor):
    """Runs each task in the submitter's contextvars context, so what an invocation set there (its
    thread-safe log keys; locally, all of its log keys) follows its work into the pool."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(lambda: context.run(fn, *args, **kwargs))


@cache
def scheduler() -> JobScheduler:
    from bulksms.adapters.scheduler import JobScheduler

    config = settings()
    return JobScheduler(
        config.schedule_group, config.scheduler_role_arn, config.send_queue_arn, config.dead_letter_queue_arn
    )


def send_rate() -> SendRate:
    from bulksms.adapters.rate import SharedTokenBucket
    from bulksms.domain.ports import NoCap

    config = settings()
    return SharedTokenBucket(config.table_name, config.max_send_rate) if config.max_send_rate else NoCap()


@cache
def executor() -> ThreadPoolExecutor:
    return _ContextExecutor(max_workers=settings().sender_threads, thread_name_prefix="bulksms")


def _secret(secret_id: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    value: dict[str, Any] = parameters.get_secret(secret_id, transform="json", max_age=SECRET_MAX_AGE_S)
    return value


def clickatell_credentials() -> Credentials:
    from bulksms.domain.message import Credentials

    secret = _secret(settings().clickatell_secret_id)
    return Credentials(
        user=str(secret["user"]), password=str(secret["password"]), api_id=str(secret["api_id"])
    )


def one_api_key() -> str:
    return str(_secret(settings().clickatell_secret_id)["api_key"])


@cache
def provider() -> Provider:
    """The deployment's Clickatell API (template parameter ClickatellApi): the one place that chooses."""
    from bulksms.adapters.clickatell import ClickatellClient
    from bulksms.adapters.one_api import OneApiClient

    config = settings()
    if config.clickatell_api == "one":
        return OneApiClient(config.clickatell_base_url, one_api_key, attempts=config.send_attempts)
    return ClickatellClient(config.clickatell_base_url, clickatell_credentials, attempts=config.send_attempts)


def is_callback_token(token: str) -> bool:
    """Whether a callback's `token` is the deployment's (compared in constant time)."""
    expected = str(_secret(settings().callback_token_secret_id)["token"])
    return hmac.compare_digest(token.encode(), expected.encode())


def webhook_signing_key() -> str:
    return str(_secret(settings().webhook_signing_secret_id)["key"])


@cache
def webhook_queue() -> SqsQueue:
    return SqsQueue(settings().webhook_queue_url)


@cache
def notifier() -> StatusNotifier:
    from bulksms.service.notify import StatusNotifier

    return StatusNotifier(webhook_queue())


@cache
def status_callback_deliverer() -> StatusCallbackDeliverer:
    from bulksms.adapters.webhooks import tls_context
    from bulksms.service.notify import StatusCallbackDeliverer

    config = settings()
    return StatusCallbackDeliverer(
        webhook_signing_key,
        allowed_hosts=config.webhook_allowed_hosts,
        deadline_s=config.webhook_deadline_s,
        tls=tls_context(config.webhook_ca_file),
    )


@cache
def sender() -> Sender:
    from bulksms.service.sending import Sender

    config = settings()
    # A chunk is started only if it can finish: one read timeout plus its retries' connect timeouts.
    min_time_ms = int((config.read_timeout_s + config.send_attempts * (config.connect_timeout_s + 4)) * 1000)
    return Sender(
        store(),
        provider(),
        executor(),
        lease_seconds=config.lease_seconds,
        min_time_to_start_ms=min_time_ms,
        rate=send_rate(),
        on_opted_out=suppressions().suppress_from_provider,
    )
