"""An in-memory `JobStore` (bulksms.domain.ports) for the service tests: no AWS, no moto.

It keeps what the DynamoDB store keeps, with the same conditions on every write; tests/contract/
test_job_store.py runs the same cases against both, so it stays honest. Like the table's stream, it
records every recipient change (`take_changes`), for the counts service to apply.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bulksms.domain.attempts import RecipientResult
from bulksms.domain.counts import CountsUpdate, StatusChange
from bulksms.domain.job import UNFINISHED_JOB_STATUSES, Chunk, ChunkState, Counts, Job, Stop
from bulksms.domain.message import Encoding, Message
from bulksms.domain.ports import Page, ReportWrite
from bulksms.domain.reports import DeliveryReport
from bulksms.domain.schedule import now_iso
from bulksms.domain.status import JobStatus, RecipientStatus, statuses_below

PARTITION = "R"  # one stream partition per job: its changes are in one order


def new_job(chunks: Sequence[Sequence[str]], status: JobStatus = JobStatus.QUEUED, **fields: Any) -> Job:
    """A job as the submission makes it, every number queued, for a test to create."""
    return Job(
        job_id=uuid.uuid4().hex,
        status=status,
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        message=Message(Encoding.GSM7, "hello", 1),
        counts=Counts.all_queued(sum(len(chunk) for chunk in chunks)),
        chunk_count=len(chunks),
        **fields,
    )


@dataclass
class _StoredJob:
    job: Job
    active: bool
    applied: dict[str, int] = field(default_factory=dict)


class MemoryJobStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # the sender settles chunks on a thread pool
        self._jobs: dict[str, _StoredJob] = {}
        self._chunks: dict[tuple[str, int], Chunk] = {}
        self._recipients: dict[tuple[str, str], dict[str, Any]] = {}
        self._rejected: dict[str, list[dict[str, Any]]] = {}
        self._changes: list[StatusChange] = []
        self._sequence = itertools.count(1)

    # ---- test helpers

    def take_changes(self) -> list[StatusChange]:
        """The recipient changes since the last call, as the stream would deliver them."""
        with self._lock:
            changes, self._changes = self._changes, []
        return changes

    def recipient(self, job_id: str, to: str) -> dict[str, Any] | None:
        return self._recipients.get((job_id, to))

    def recipients(self, job_id: str) -> dict[str, dict[str, Any]]:
        return {to: item for (job, to), item in self._recipients.items() if job == job_id}

    def set_chunk(self, chunk: Chunk) -> None:
        """Put a chunk in a state a crash would leave it in (e.g. a claim whose lease ran out)."""
        self._chunks[(chunk.job_id, chunk.index)] = chunk

    # ---- jobs

    def create_job(self, job: Job, chunks: Sequence[Sequence[str]]) -> None:
        with self._lock:
            if job.job_id in self._jobs:
                raise ValueError(f"job {job.job_id} exists")
            for index, numbers in enumerate(chunks):
                self._chunks[(job.job_id, index)] = Chunk(
                    job.job_id, index, ChunkState.PENDING, tuple(numbers)
                )
            self._jobs[job.job_id] = _StoredJob(job, active=job.status is not JobStatus.SCHEDULED)

    def put_rejected(self, job_id: str, entries: Sequence[Mapping[str, str]]) -> None:
        self._rejected[job_id] = [dict(entry) for entry in entries]

    def rejected_page(
        self, job_id: str, total: int, *, limit: int, token: str | None
    ) -> Page[dict[str, Any]]:
        start = int(token) if token else 0
        end = min(total, start + limit)
        items = self._rejected.get(job_id, [])[start:end]
        return Page(items, str(end) if end < total else None)

    def get_job(self, job_id: str) -> Job | None:
        stored = self._jobs.get(job_id)
        return stored.job if stored else None

    def _change_job(self, job_id: str, **changes: Any) -> None:
        stored = self._jobs[job_id]
        stored.job = replace(stored.job, updated_at=now_iso(), **changes)

    def mark_sending(self, job_id: str) -> None:
        with self._lock:
            job = self.get_job(job_id)
            if job is not None and job.status is JobStatus.QUEUED:
                self._change_job(job_id, status=JobStatus.SENDING)

    def start_scheduled(self, job_id: str) -> bool:
        with self._lock:
            job = self.get_job(job_id)
            if job is None or job.status is not JobStatus.SCHEDULED or job.stop:
                return False
            self._change_job(job_id, status=JobStatus.QUEUED)
            self._jobs[job_id].active = True
            return True

    def request_stop(self, job_id: str, stop: Stop) -> bool:
        with self._lock:
            job = self.get_job(job_id)
            if job is None or job.stop or job.status not in UNFINISHED_JOB_STATUSES:
                return False
            self._change_job(job_id, stop=stop)
            self._jobs[job_id].active = True
            return True

    def job_stop(self, job_id: str) -> Stop | None:
        job = self.get_job(job_id)
        return job.stop if job else None

    def finish(self, job: Job, final: JobStatus) -> Job | None:
        with self._lock:
            current = self.get_job(job.job_id)
            if (
                current is None
                or current.counts.queued != 0
                or current.status not in UNFINISHED_JOB_STATUSES
                or (current.stop.outcome if current.stop else None)
                != (job.stop.outcome if job.stop else None)
            ):
                return None
            finished_at = now_iso()
            self._change_job(job.job_id, status=final, finished_at=finished_at)
            self._jobs[job.job_id].active = False
            return replace(job, status=final, finished_at=finished_at)

    def active_job_ids(self) -> list[str]:
        return [job_id for job_id, stored in self._jobs.items() if stored.active]

    # ---- chunks

    def load_chunks(self, job_id: str, chunks: Sequence[int]) -> dict[int, Chunk]:
        found = (self._chunks.get((job_id, index)) for index in chunks)
        return {chunk.index: chunk for chunk in found if chunk}

    def job_chunks(self, job_id: str) -> Iterator[Chunk]:
        chunks = sorted((c for (job, _), c in self._chunks.items() if job == job_id), key=lambda c: c.index)
        return iter(chunks)

    def claim_chunk(
        self, job_id: str, chunk: int, attempt: str, lease_until: int, *, stop: Stop | None = None
    ) -> bool:
        with self._lock:
            current = self._chunks.get((job_id, chunk))
            if current is None or current.state is not ChunkState.PENDING:
                return False
            self._chunks[(job_id, chunk)] = replace(
                current, state=ChunkState.CLAIMED, lease_until=lease_until, stop=stop
            )
            return True

    def mark_done(self, job_id: str, chunk: int) -> None:
        with self._lock:
            current = self._chunks[(job_id, chunk)]
            self._chunks[(job_id, chunk)] = replace(current, state=ChunkState.DONE, lease_until=None)

    # ---- recipients

    def _write_recipient(self, job_id: str, to: str, item: dict[str, Any]) -> None:
        old = self._recipients.get((job_id, to))
        self._recipients[(job_id, to)] = item
        self._changes.append(
            StatusChange(
                job_id=job_id,
                partition=PARTITION,
                sequence=next(self._sequence),
                old=RecipientStatus(old["status"]) if old else None,
                new=RecipientStatus(item["status"]),
                charge=_charge(item) - _charge(old),
            )
        )

    def put_results(self, job_id: str, chunk: int, results: Iterable[RecipientResult]) -> None:
        with self._lock:
            for to, status, api_message_id, error_code, error in results:
                item: dict[str, Any] = {
                    "to": to,
                    "status": status.value,
                    "chunk": chunk,
                    "updated_at": now_iso(),
                }
                optional = {"api_message_id": api_message_id, "error_code": error_code, "error": error}
                item.update({name: value for name, value in optional.items() if value is not None})
                self._write_recipient(job_id, to, item)

    def numbers_with_results(self, job_id: str, numbers: Sequence[str]) -> set[str]:
        return {to for to in numbers if (job_id, to) in self._recipients}

    def apply_report(self, job_id: str, report: DeliveryReport, new: RecipientStatus) -> ReportWrite:
        with self._lock:
            current = self._recipients.get((job_id, report.to))
            if current is None:
                return ReportWrite.NO_RECIPIENT
            known = current.get("api_message_id")
            if known and known != report.api_message_id:
                return ReportWrite.OTHER_MESSAGE
            if RecipientStatus(current["status"]) not in statuses_below(new):
                return ReportWrite.UNCHANGED
            item = {**current, **report.fields(), "status": new.value, "updated_at": now_iso()}
            self._write_recipient(job_id, report.to, item)
            return ReportWrite.APPLIED

    # ---- counts

    def applied_sequences(self, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        return {job_id: dict(self._jobs[job_id].applied) for job_id in job_ids if job_id in self._jobs}

    def apply_counts(self, update: CountsUpdate, expected: Mapping[str, int]) -> Job | None:
        with self._lock:
            stored = self._jobs.get(update.job_id)
            if stored is None:
                return None
            for partition in update.applied:
                if stored.applied.get(partition) != expected.get(partition):
                    return None
            stored.applied.update(update.applied)
            job = stored.job
            self._change_job(
                update.job_id,
                counts=job.counts.moved(update.moves),
                charge_total=job.charge_total + update.charge,
            )
            return stored.job


def _charge(item: Mapping[str, Any] | None) -> Decimal:
    value = (item or {}).get("charge")
    return Decimal(value) if value else Decimal(0)
