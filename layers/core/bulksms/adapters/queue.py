"""The SQS queues: the send queue (its messages: domain/send_messages.py) and the webhook queue."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bulksms.adapters import aws
from bulksms.domain.retry import RetryPolicy
from bulksms.domain.send_messages import chunks_message, start_message

_ENTRIES_PER_CALL = 10  # SQS SendMessageBatch limit
# Not stacked on botocore's retries: those cover a failed call, while entries SQS refuses come back in
# a successful answer's `Failed` list, which botocore does not retry.
_REFUSED_RETRY = RetryPolicy(attempts=5, base_s=0.05, cap_s=1.0, budget_s=10.0)
MAX_DELAY_S = 900  # SQS DelaySeconds limit


class SqsQueue:
    """A `WebhookQueue` (domain/ports.py), and the base of the send queue."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self._url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.sqs()

    def send(self, bodies: Sequence[Mapping[str, Any]], *, delay_s: float = 0) -> None:
        """Queue every body as JSON (visible after `delay_s`); entries SQS refuses are retried, and a
        lasting refusal raises."""
        delay = min(MAX_DELAY_S, math.ceil(delay_s))
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(body), "DelaySeconds": delay}
            for index, body in enumerate(bodies)
        ]
        for start in range(0, len(entries), _ENTRIES_PER_CALL):
            self._send(entries[start : start + _ENTRIES_PER_CALL])

    def _send(self, entries: list[dict[str, Any]]) -> None:
        for _ in _REFUSED_RETRY.tries(time.monotonic, time.sleep):
            failed = self.client.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
            if not failed:
                return
            failed_ids = {entry["Id"] for entry in failed}
            entries = [entry for entry in entries if entry["Id"] in failed_ids]
        raise RuntimeError(f"SQS refused {len(entries)} messages after every retry")

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after `seconds` instead of the visibility timeout."""
        self.client.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


class SqsSendQueue(SqsQueue):
    """The `SendQueue` (domain/ports.py) on SQS."""

    def enqueue(self, job_id: str, groups: Sequence[Sequence[int]], *, delay_s: float = 0) -> None:
        self.send([chunks_message(job_id, group) for group in groups], delay_s=delay_s)

    def enqueue_start(self, job_id: str, *, delay_s: float = 0) -> None:
        self.client.send_message(
            QueueUrl=self._url,
            MessageBody=start_message(job_id),
            DelaySeconds=min(MAX_DELAY_S, math.ceil(delay_s)),
        )
