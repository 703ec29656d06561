"""Send the chunks of one queue message: claim, POST, record every number, mark the chunk done.

The sender never touches the job's counts: they follow from the stored results (counts aggregator).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from bulksms.domain.job import Chunk, ChunkState, Job
from bulksms.domain.ports import JobStore, NoCap, SendRate
from bulksms.domain.provider import Provider
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.lifecycle import finish_stopped, request_stop, settle_abandoned, settle_stopped

logger = Logger(child=True)


class RetryLater(Exception):
    """Some chunks of the message were left pending: for lack of time (SQS delivers it again), or
    because the send-rate budget was spent (`after_s` set: hand the chunks back for that long)."""

    def __init__(self, message: str, after_s: float | None = None) -> None:
        super().__init__(message)
        self.after_s = after_s

    # Soon: the chunks are ready now, and the queue's visibility timeout (720 s) would idle them.
    retry_after_s = 5


@dataclass(frozen=True, slots=True)
class ChunkReport:
    counts: Counter[RecipientStatus]
    deferred: bool = False
    retry_after_s: float = 0.0  # deferred by the send-rate cap: ask again after this


_NOTHING = ChunkReport(Counter())


class Sender:
    def __init__(
        self,
        store: JobStore,
        client: Provider,
        executor: Executor,
        *,
        lease_seconds: int,
        min_time_to_start_ms: int,
        rate: SendRate | None = None,
        on_opted_out: Callable[[list[str], str], object] = lambda numbers, reason: None,
    ) -> None:
        self._store = store
        self._client = client
        self._executor = executor
        self._lease_seconds = lease_seconds
        self._min_time_ms = min_time_to_start_ms
        self._rate = rate or NoCap()
        self._on_opted_out = on_opted_out

    def process(
        self, job_id: str, chunk_indexes: Sequence[int], remaining_ms: Callable[[], int]
    ) -> Counter[RecipientStatus]:
        """Handle one queue message. Raises when it must be delivered again; never resends a claimed chunk."""
        job = self._store.get_job(job_id)
        if job is None:
            logger.warning("message for an unknown job dropped", extra={"job_id": job_id})
            return Counter()
        if job.finished:
            return Counter()
        chunks = self._store.load_chunks(job_id, chunk_indexes)
        if missing := sorted(set(chunk_indexes) - set(chunks)):
            logger.error("chunks missing from the store", extra={"job_id": job_id, "chunks": missing})
        if job.stop:
            # This message's chunks are settled with the stop's outcome, none is sent.
            settle_stopped(self._store, chunks.values(), job.stop)
            return Counter()
        if job.status is JobStatus.SCHEDULED:
            return Counter()  # not started: its schedule queues its chunks when its time comes
        if job.status is JobStatus.QUEUED:
            self._store.mark_sending(job_id)
        futures = [
            self._executor.submit(self._send_chunk, job, chunk, remaining_ms)
            for _, chunk in sorted(chunks.items())
        ]
        reports: list[ChunkReport] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                reports.append(future.result())
            except Exception as error:  # one chunk's storage failure must not hide its neighbours' results
                logger.exception(
                    "chunk failed; the message will be delivered again", extra={"job_id": job_id}
                )
                errors.append(error)
        if errors:
            raise errors[0]
        if deferred := [report for report in reports if report.deferred]:
            after_s = max(report.retry_after_s for report in deferred)
            raise RetryLater(f"job {job_id}: chunks left pending", after_s=after_s or None)
        return sum((report.counts for report in reports), Counter())

    def _send_chunk(self, job: Job, chunk: Chunk, remaining_ms: Callable[[], int]) -> ChunkReport:
        job_id, index, numbers = job.job_id, chunk.index, chunk.numbers
        if chunk.state is ChunkState.CLAIMED:
            if chunk.lease_expired(time.time()):
                settle_abandoned(self._store, chunk)
            return _NOTHING  # otherwise its claimer is still at work
        if chunk.state is not ChunkState.PENDING:
            return _NOTHING
        if remaining_ms() < self._min_time_ms:
            return ChunkReport(Counter(), deferred=True)
        slot = self._rate.acquire(len(numbers))
        if slot.retry_after_s:
            return ChunkReport(Counter(), deferred=True, retry_after_s=slot.retry_after_s)
        attempt = uuid.uuid4().hex
        if not self._store.claim_chunk(job_id, index, attempt, int(time.time()) + self._lease_seconds):
            return _NOTHING  # claimed by another delivery of this message, or settled by a stop
        if stop := self._store.job_stop(job_id):
            # Stopped between our read of the job and our claim: we hold the claim, nothing went out.
            return ChunkReport(finish_stopped(self._store, job_id, index, numbers, stop))
        self._rate.wait(slot)  # booked before the claim; its start is kept just before the POST
        started = time.perf_counter()
        # Our job id is the client message id: delivery callbacks carry it, with the number, back to the row.
        verdict = self._client.send(job.message, numbers, client_message_id=job_id)
        if verdict.stop:
            # At once, not when the whole message is done: every chunk claimed after this sees the
            # stop and is not sent; the job's other pending chunks are settled as their messages
            # arrive, or by the sweeper.
            request_stop(self._store, job_id, verdict.stop)
        self._store.put_results(job_id, index, verdict.results)
        self._store.mark_done(job_id, index)
        if opted_out := [r for r in verdict.results if r.error_code == self._client.opted_out_error]:
            # Onto the suppression list: no later job sends to them.
            reason = f"Clickatell: error {opted_out[0].error_code}, {opted_out[0].error or 'opted out'}"
            self._on_opted_out([r.to for r in opted_out], reason)
        counts = verdict.counts()
        logger.info(
            "chunk sent",
            extra={
                "job_id": job_id,
                "chunk": index,
                "numbers": len(numbers),
                "outcome": verdict.reason,
                "counts": {status.value: n for status, n in counts.items()},
                "unparsed_records": len(verdict.unparsed),
                "elapsed_ms": round((time.perf_counter() - started) * 1000),
            },
        )
        return ChunkReport(counts)
