"""A job and its chunks as the services see them, and the one rule for how a job ends.

A job's numbers are split into chunks; a chunk moves `pending` -> `claimed` (by a sender, or by whoever
settles it with a stop) -> `done` once each of its numbers has a stored result. The job's counts say
how many numbers are in each status; they start with every number `queued` and always add up to the
total. A job may be stopped (cancelled, or failed by an account error): its numbers not yet sent then
take the stop's outcome. Once no number is `queued`, the job ends (`final_status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from bulksms.domain.message import Message
from bulksms.domain.status import FINAL_JOB_STATUSES, JobStatus, RecipientStatus

# Unfinished: a scheduled job can be stopped (cancelled) and finished before it ever started.
UNFINISHED_JOB_STATUSES = frozenset(JobStatus) - FINAL_JOB_STATUSES


class ChunkState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Stop:
    """Why the rest of a job must not be sent, and what its unsent numbers become."""

    outcome: JobStatus  # CANCELLED or FAILED: the job's final status
    code: str
    reason: str

    def __post_init__(self) -> None:
        if self.outcome not in (JobStatus.CANCELLED, JobStatus.FAILED):
            raise ValueError(f"a stop ends a job cancelled or failed, not {self.outcome}")

    @classmethod
    def failed(cls, code: str, reason: str) -> Stop:
        """An account-level error: the account cannot send, so the job fails."""
        return cls(JobStatus.FAILED, code, reason)

    @property
    def recipient_status(self) -> RecipientStatus:
        return RecipientStatus.CANCELLED if self.outcome is JobStatus.CANCELLED else RecipientStatus.FAILED


@dataclass(frozen=True, slots=True)
class Counts:
    """How many of a job's numbers are in each status (every status present, adding up to `total`)."""

    total: int
    by_status: Mapping[RecipientStatus, int]

    @classmethod
    def all_queued(cls, total: int) -> Counts:
        return cls.of(total, {RecipientStatus.QUEUED: total})

    @classmethod
    def of(cls, total: int, by_status: Mapping[RecipientStatus, int]) -> Counts:
        return cls(total, MappingProxyType({status: by_status.get(status, 0) for status in RecipientStatus}))

    @property
    def queued(self) -> int:
        return self.by_status[RecipientStatus.QUEUED]

    def moved(self, moves: Mapping[RecipientStatus, int]) -> Counts:
        """The counts after some numbers moved between statuses (`CountsUpdate.moves`)."""
        return Counts.of(self.total, {s: n + moves.get(s, 0) for s, n in self.by_status.items()})

    def as_dict(self) -> dict[str, int]:
        """The public `counts` object: `total`, then one count per status."""
        return {"total": self.total, **{status.value: n for status, n in self.by_status.items()}}


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    status: JobStatus
    created_at: str
    message: Message
    counts: Counts
    chunk_count: int
    updated_at: str | None = None
    finished_at: str | None = None
    stop: Stop | None = None
    send_at: str | None = None  # a scheduled job's start
    client_reference: str | None = None
    status_callback_url: str | None = None
    charge_total: Decimal = Decimal(0)
    rejected_count: int = 0
    duplicates_removed: int = 0
    normalised: int = 0
    suppressed: int = 0  # left out because they are on the suppression list: not in `counts`

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


@dataclass(frozen=True, slots=True)
class Chunk:
    job_id: str
    index: int
    state: ChunkState
    numbers: tuple[str, ...]
    lease_until: int | None = None  # while claimed: when the claimer is presumed gone
    # A claim made to settle the chunk with this stop (nothing sent); a send claim carries none.
    stop: Stop | None = None

    def lease_expired(self, now: float) -> bool:
        return self.state is ChunkState.CLAIMED and (self.lease_until or 0) < now


def final_status(job: Job) -> JobStatus | None:
    """The one rule for a job's end: once it is unfinished and no number is queued, it ends with its
    stop's outcome, else `completed`. None while it may not end (numbers queued, or already ended)."""
    if job.status not in UNFINISHED_JOB_STATUSES or job.counts.queued != 0:
        return None
    return job.stop.outcome if job.stop else JobStatus.COMPLETED
