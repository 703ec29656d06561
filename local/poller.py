"""Invoke a function's real handler from SQS the way a Lambda event source mapping does.

Receives up to BatchSize messages (waiting up to the batching window), invokes the handler with an
SQS-shaped event and a context carrying the function's timeout, deletes the messages it did not
report as failed (ReportBatchItemFailures), and leaves the failed ones to reappear after the queue's
visibility timeout; the queue's own redrive policy moves them to the DLQ after maxReceiveCount.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.context import LocalContext
from local.events import sqs_event

log = logging.getLogger("local.poller")
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class SqsSource:
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_s: float
    max_concurrency: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class FunctionTarget:
    name: str
    handler: Handler
    timeout_s: float
    memory_mb: int


class SqsPoller:
    def __init__(self, sqs: Any, source: SqsSource, target: FunctionTarget) -> None:
        self._sqs = sqs
        self._source = source
        self._target = target
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.invocations = 0
        self.failed_records = 0
        self._lock = threading.Lock()

    def receive(self, wait_s: float) -> list[dict[str, Any]]:
        """One batch: up to BatchSize messages, gathered for at most the batching window."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._source.batching_window_s
        while len(messages) < self._source.batch_size:
            answer = self._sqs.receive_message(
                QueueUrl=self._source.queue_url,
                MaxNumberOfMessages=min(10, self._source.batch_size - len(messages)),
                WaitTimeSeconds=int(wait_s) if not messages else 0,
                AttributeNames=["All"],
            )
            batch = answer.get("Messages", [])
            messages.extend(batch)
            if not batch or time.monotonic() >= deadline:
                break
        return messages

    def invoke(self, messages: list[dict[str, Any]]) -> list[str]:
        """Invoke the handler once; returns the ids of messages left for redelivery."""
        event = sqs_event(self._source.queue_arn, messages)
        context = LocalContext(self._target.name, self._target.memory_mb, self._target.timeout_s)
        ids = [m["MessageId"] for m in messages]
        try:
            answer = self._target.handler(event, context)
        except Exception:
            log.exception("%s raised; its %d messages will be delivered again", self._target.name, len(ids))
            failed = ids
        else:
            reported = (
                (answer or {}).get("batchItemFailures", []) if self._source.report_batch_item_failures else []
            )
            failed = [item["itemIdentifier"] for item in reported]
        done = [m for m in messages if m["MessageId"] not in set(failed)]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        with self._lock:
            self.invocations += 1
            self.failed_records += len(failed)
        return failed

    def poll_once(self, wait_s: float = 0) -> int:
        messages = self.receive(wait_s)
        if messages:
            self.invoke(messages)
        return len(messages)

    def start(self) -> SqsPoller:
        """Poll in the background with up to MaximumConcurrency concurrent invocations."""
        for index in range(self._source.max_concurrency):
            thread = threading.Thread(
                target=self._run, name=f"poller-{self._target.name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_s=1)
            except Exception:
                log.exception("polling %s failed; retrying", self._target.name)
                self._stop.wait(1)

    def stop(self, wait_s: float = 30.0) -> None:
        """Take no new batch; wait at most `wait_s` for the invocations in flight (0: do not wait)."""
        self._stop.set()
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
