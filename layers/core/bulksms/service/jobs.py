"""Stopping a job (cancel or account error) and settling chunks nobody will send.

Settling a chunk stores a result for each of its numbers and marks the chunk done; the counts follow
from those results (the counts aggregator), and so does the job's end.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.queue import SendQueue
from bulksms.adapters.store import ChunkState, Store, chunk_numbers
from bulksms.domain.attempts import results_for, tally
from bulksms.domain.chunks import group_indexes
from bulksms.domain.status import JobStatus, RecipientStatus

logger = Logger(child=True)

STOP_CLAIM_SECONDS = 120
ABANDONED_ERROR = (
    "the sender stopped after claiming this chunk; Clickatell may have accepted it, so it is not resent"
)


@dataclass(frozen=True, slots=True)
class Stop:
    outcome: JobStatus  # CANCELLED or FAILED
    code: str
    reason: str

    @property
    def recipient_status(self) -> RecipientStatus:
        return RecipientStatus.CANCELLED if self.outcome is JobStatus.CANCELLED else RecipientStatus.FAILED

    def as_item(self) -> dict[str, str]:
        return {"outcome": self.outcome.value, "code": self.code, "reason": self.reason}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Stop:
        return cls(JobStatus(item["outcome"]), str(item["code"]), str(item["reason"]))


def settle_unsent(store: Store, job_id: str, chunk: Mapping[str, Any], stop: Stop) -> bool:
    """Give a pending chunk's numbers the stop's outcome. False if the chunk was not pending any more."""
    index = int(chunk["chunk"])
    lease = int(time.time()) + STOP_CLAIM_SECONDS
    if not store.claim_chunk(job_id, index, uuid.uuid4().hex, lease, stop=stop.as_item()):
        return False
    finish_stopped(store, job_id, index, chunk_numbers(chunk), stop)
    return True


def finish_stopped(
    store: Store, job_id: str, index: int, numbers: list[str], stop: Stop
) -> Counter[RecipientStatus]:
    """Record a claimed, unsent chunk's numbers with the stop's outcome and settle it."""
    results = results_for(numbers, stop.recipient_status, stop.code, stop.reason)
    store.put_results(job_id, index, results)
    store.mark_done(job_id, index)
    return tally(results)


def settle_abandoned(store: Store, job: Mapping[str, Any], chunk: Mapping[str, Any]) -> None:
    """Finish a chunk whose claim outlived its lease: the claimer is gone.

    A stop claim is finished as a stop (nothing was sent). A send claim may have reached Clickatell,
    so its numbers without a stored result become `unknown` and are never resent; the results the
    claimer stored before it died (and what reports made of them since) are kept.
    """
    job_id, index, numbers = job["job_id"], int(chunk["chunk"]), chunk_numbers(chunk)
    if chunk.get("stop"):
        finish_stopped(store, job_id, index, numbers, Stop.from_item(chunk["stop"]))
        return
    stored = store.get_recipients(job_id, numbers)
    missing = [to for to in numbers if to not in stored]
    store.put_results(job_id, index, results_for(missing, RecipientStatus.UNKNOWN, None, ABANDONED_ERROR))
    store.mark_done(job_id, index)
    if missing:
        logger.warning(
            "abandoned chunk settled", extra={"job_id": job_id, "chunk": index, "unknown": len(missing)}
        )


def lease_expired(chunk: Mapping[str, Any], now: float | None = None) -> bool:
    return chunk.get("state") == ChunkState.CLAIMED.value and int(chunk.get("lease_until", 0)) < (
        now if now is not None else time.time()
    )


def request_stop(store: Store, job_id: str, stop: Stop) -> bool:
    """Record the stop (the first one wins): from now on no chunk of the job is sent. Its pending
    chunks are settled with the stop's outcome by whoever meets them next: the sender, when their
    queue message arrives, or the sweeper."""
    if not store.request_stop(job_id, stop.outcome, stop.code, stop.reason):
        return False
    logger.info("job stopping", extra={"job_id": job_id, "outcome": stop.outcome.value, "code": stop.code})
    return True


def settle_pending(store: Store, executor: Executor, job_id: str, stop: Stop) -> int:
    pending = [c for c in store.job_chunks(job_id) if c["state"] == ChunkState.PENDING.value]
    return sum(executor.map(lambda chunk: settle_unsent(store, job_id, chunk, stop), pending))


def age_seconds(iso: str, now: float | None = None) -> float:
    """Seconds since a timestamp the store wrote (`now_iso`)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    return (now if now is not None else time.time()) - moment


def requeue_pending(
    queue: SendQueue, job_id: str, chunks: Iterable[Mapping[str, Any]], chunks_per_message: int
) -> int:
    """Queue a job's pending chunks again; a claim is conditional, so a chunk queued twice is sent once."""
    pending = [int(c["chunk"]) for c in chunks if c["state"] == ChunkState.PENDING.value]
    if pending:
        groups = [[pending[i] for i in group] for group in group_indexes(len(pending), chunks_per_message)]
        queue.enqueue(job_id, groups)
    return len(pending)
