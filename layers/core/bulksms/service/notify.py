"""Tell the client once that a job finished: a structured log line, and a signed POST to the job's
`status_callback_url` if it gave one. The same signed POST carries inbound messages to the
deployment's webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from aws_lambda_powertools import Logger

from bulksms.adapters.store import counts_of
from bulksms.service.queries import job_view

logger = Logger(child=True)

SIGNATURE_HEADER = "X-Bulksms-Signature"
TIMESTAMP_HEADER = "X-Bulksms-Timestamp"
_ATTEMPTS = 3
_TIMEOUT = urllib3.Timeout(connect=3.0, read=5.0)


def signature(key: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<body>`: receivers recompute it and reject stale timestamps."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class StatusNotifier:
    def __init__(
        self,
        http: urllib3.PoolManager,
        signing_key: Callable[[], str],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._key = signing_key
        self._sleep = sleep

    def __call__(self, job: Mapping[str, Any]) -> None:
        logger.info(
            "job finished", extra={"job_id": job["job_id"], "status": job["status"], "counts": counts_of(job)}
        )
        if url := job.get("status_callback_url"):
            self.post(url, job_view(job), {"job_id": job["job_id"]})

    def post(self, url: str, payload: Mapping[str, Any], log_extra: Mapping[str, str]) -> None:
        """POST `payload` as signed JSON, retried until the receiver answers 2xx; the outcome is logged."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._key(), timestamp, body),
        }
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                response = self._http.request(
                    "POST", url, body=body, headers=headers, timeout=_TIMEOUT, retries=False
                )
            except urllib3.exceptions.HTTPError as error:
                outcome = type(error).__name__
            else:
                if 200 <= response.status < 300:
                    logger.info("signed POST delivered", extra={**log_extra, "attempt": attempt})
                    return
                outcome = f"HTTP {response.status}"
            if attempt < _ATTEMPTS:
                self._sleep(0.5 * 2 ** (attempt - 1))
        logger.error("signed POST not delivered", extra={**log_extra, "outcome": outcome})
