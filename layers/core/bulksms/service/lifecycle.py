"""A job's lifecycle after it was accepted: stopping it, settling the chunks nobody will send, and
finishing it. The sender, the sweeper, cancel and the counts all go through here, so one place
settles chunks and one place decides (with `domain.job.final_status`) how and when a job ends.

Settling a chunk stores a result for each of its numbers and marks the chunk done; the counts follow
from those results (the counts aggregator), and the job's end from the counts (`finish_if_done`).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from bulksms.domain.attempts import results_for, tally
from bulksms.domain.chunks import group_indexes
from bulksms.domain.job import Chunk, ChunkState, Job, Stop, final_status
from bulksms.domain.ports import JobStore, SendQueue
from bulksms.domain.status import RecipientStatus

logger = Logger(child=True)

STOP_CLAIM_SECONDS = 120
ABANDONED_ERROR = (
    "the sender stopped after claiming this chunk; Clickatell may have accepted it, so it is not resent"
)

OnFinished = Callable[[Job], None]


def request_stop(store: JobStore, job_id: str, stop: Stop) -> bool:
    """Record the stop (the first one wins): from now on no chunk of the job is sent. Its pending
    chunks are settled with the stop's outcome by whoever meets them next: the sender, when their
    queue message arrives, or the sweeper."""
    if not store.request_stop(job_id, stop):
        return False
    logger.info("job stopping", extra={"job_id": job_id, "outcome": stop.outcome.value, "code": stop.code})
    return True


def settle_stopped(store: JobStore, chunks: Iterable[Chunk], stop: Stop, now: float | None = None) -> None:
    """The job stopped: these chunks are settled with the stop's outcome (or, for an abandoned send
    claim, as `unknown`); none is sent. A chunk another claimer is still working on is left to it."""
    moment = now if now is not None else time.time()
    for chunk in chunks:
        if chunk.lease_expired(moment):
            settle_abandoned(store, chunk)
        elif chunk.state is ChunkState.PENDING:
            settle_unsent(store, chunk, stop)


def settle_pending(store: JobStore, executor: Executor, job_id: str, stop: Stop) -> int:
    """Settle every pending chunk of a stopped job with the stop; how many this call settled."""
    pending = [chunk for chunk in store.job_chunks(job_id) if chunk.state is ChunkState.PENDING]
    return sum(executor.map(lambda chunk: settle_unsent(store, chunk, stop), pending))


def settle_unsent(store: JobStore, chunk: Chunk, stop: Stop) -> bool:
    """Give a pending chunk's numbers the stop's outcome. False if the chunk was not pending any more."""
    lease = int(time.time()) + STOP_CLAIM_SECONDS
    if not store.claim_chunk(chunk.job_id, chunk.index, uuid.uuid4().hex, lease, stop=stop):
        return False
    finish_stopped(store, chunk.job_id, chunk.index, chunk.numbers, stop)
    return True


def finish_stopped(
    store: JobStore, job_id: str, index: int, numbers: Sequence[str], stop: Stop
) -> Counter[RecipientStatus]:
    """Record a claimed, unsent chunk's numbers with the stop's outcome and settle it."""
    results = results_for(numbers, stop.recipient_status, stop.code, stop.reason)
    store.put_results(job_id, index, results)
    store.mark_done(job_id, index)
    return tally(results)


def settle_abandoned(store: JobStore, chunk: Chunk) -> None:
    """Finish a chunk whose claim outlived its lease: the claimer is gone.

    A stop claim is finished as a stop (nothing was sent). A send claim may have reached Clickatell,
    so its numbers without a stored result become `unknown` and are never resent; the results the
    claimer stored before it died (and what reports made of them since) are kept.
    """
    if chunk.stop:
        finish_stopped(store, chunk.job_id, chunk.index, chunk.numbers, chunk.stop)
        return
    stored = store.numbers_with_results(chunk.job_id, chunk.numbers)
    missing = [to for to in chunk.numbers if to not in stored]
    store.put_results(
        chunk.job_id, chunk.index, results_for(missing, RecipientStatus.UNKNOWN, None, ABANDONED_ERROR)
    )
    store.mark_done(chunk.job_id, chunk.index)
    if missing:
        logger.warning(
            "abandoned chunk settled",
            extra={"job_id": chunk.job_id, "chunk": chunk.index, "unknown": len(missing)},
        )


def finish_if_done(store: JobStore, job: Job, on_finished: OnFinished) -> Job | None:
    """End a job whose numbers all have their outcome, exactly once: the caller that moves it to its
    final status (`final_status`) tells `on_finished` and gets the finished job; others get None."""
    final = final_status(job)
    if final is None:
        return None
    finished = store.finish(job, final)
    if finished is None:
        return None
    # Every number has its result now, so a chunk still `claimed` lost only its bookkeeping (its
    # sender died between storing the results and marking it done): nobody looks at it again.
    for chunk in store.job_chunks(job.job_id):
        if chunk.state is ChunkState.CLAIMED:
            store.mark_done(job.job_id, chunk.index)
    on_finished(finished)
    return finished


def finish_stored_if_done(store: JobStore, job_id: str, on_finished: OnFinished) -> Job | None:
    """`finish_if_done` for a job read afresh (the sweeper; a counts batch that changed nothing)."""
    job = store.get_job(job_id)
    return finish_if_done(store, job, on_finished) if job else None


def age_seconds(iso: str, now: float | None = None) -> float:
    """Seconds since a timestamp the store wrote (`domain.schedule.now_iso`)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    return (now if now is not None else time.time()) - moment


def requeue_pending(queue: SendQueue, job_id: str, chunks: Iterable[Chunk], chunks_per_message: int) -> int:
    """Queue a job's pending chunks again; a claim is conditional, so a chunk queued twice is sent once."""
    pending = [chunk.index for chunk in chunks if chunk.state is ChunkState.PENDING]
    if pending:
        groups = [[pending[i] for i in group] for group in group_indexes(len(pending), chunks_per_message)]
        queue.enqueue(job_id, groups)
    return len(pending)
