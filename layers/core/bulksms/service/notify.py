"""Tell the client once that a job finished: a structured log line, and a signed POST to the job's
`status_callback_url` if it gave one. Inbound replies reach the deployment's webhook the same way.

The POST is never made where the job finishes (the sender, the API, the sweeper): the hook only puts
it on the webhook queue, and the webhook function delivers it, one attempt per receive, with backoff
between attempts and the dead-letter queue after the last. A slow or dead endpoint delays only its own
deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.webhooks import DeliveryFailed, checked, post
from bulksms.domain.job import Job
from bulksms.domain.ports import WebhookQueue
from bulksms.domain.retry import RetryPolicy
from bulksms.domain.webhook_urls import UnsafeUrl
from bulksms.service.queries import job_view

logger = Logger(child=True)

SIGNATURE_HEADER = "X-Bulksms-Signature"
TIMESTAMP_HEADER = "X-Bulksms-Timestamp"
# Between receives of the webhook queue (each receive is one attempt; the queue's redrive counts them).
# The ceilings of the one policy, without jitter: a receive is already scheduled by SQS, not a loop.
_DELIVERY_RETRY = RetryPolicy(attempts=1, base_s=2, cap_s=900, growth=4)


def signature(key: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<body>`: receivers recompute it and reject stale timestamps."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay_s(attempt: int) -> int:
    """Seconds before attempt `attempt + 1`: 2, 8, 32, 128, 512, then every 15 minutes."""
    return int(_DELIVERY_RETRY.ceiling_s(attempt))


class StatusNotifier:
    """The `on_finished` hook: it receives the finished job."""

    def __init__(self, queue: WebhookQueue) -> None:
        self._queue = queue

    def __call__(self, job: Job) -> None:
        logger.info(
            "job finished",
            extra={"job_id": job.job_id, "status": job.status.value, "counts": job.counts.as_dict()},
        )
        if url := job.status_callback_url:
            body = json.dumps(job_view(job), separators=(",", ":"))
            self._queue.send([{"job_id": job.job_id, "url": url, "body": body}])


class StatusCallbackDeliverer:
    """One delivery attempt of a queued status callback; raises DeliveryFailed to be tried again."""

    def __init__(
        self,
        signing_key: Callable[[], str],
        *,
        allowed_hosts: Collection[str],
        deadline_s: float,
        tls: ssl.SSLContext,
    ) -> None:
        self._key = signing_key
        self._allowed = allowed_hosts
        self._deadline_s = deadline_s
        self._tls = tls

    def __call__(self, message: Mapping[str, Any]) -> None:
        # A status callback names its job; an inbound reply its MO message (its own id for the logs).
        job_id, body = message.get("job_id") or message.get("mo_message_id"), str(message["body"]).encode()
        try:
            # Again at delivery time: the API checked the name when it was given, DNS may have moved since.
            url, address = checked(message["url"], self._allowed)
        except UnsafeUrl as error:
            logger.error(
                "status callback dropped: unsafe URL", extra={"job_id": job_id, "reason": str(error)}
            )
            return
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._key(), timestamp, body),
        }
        status = post(url, address, body, headers, deadline_s=self._deadline_s, tls=self._tls)
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")
        logger.info("status callback delivered", extra={"job_id": job_id, "status": status})
