"""What the services need from the job storage: the `JobStore` port, in domain types only.

`adapters.store.Store` (DynamoDB) implements it, and so does the in-memory store the service tests
use; one contract test suite runs against both (tests/contract/test_job_store.py). Every write that
may race another is conditional and says whether it happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bulksms.domain.job import Chunk, Job, Stop
from bulksms.domain.status import JobStatus, RecipientStatus

if TYPE_CHECKING:  # annotations only (see adapters/store.py)
    from bulksms.domain.attempts import RecipientResult
    from bulksms.domain.counts import CountsUpdate
    from bulksms.domain.reports import DeliveryReport


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: list[T]
    next_token: str | None


class ReportWrite(StrEnum):
    APPLIED = "applied"  # the recipient moved up the ladder
    UNCHANGED = "unchanged"  # repeated or stale: nothing written
    OTHER_MESSAGE = "other_message"  # the recipient's message has another id: nothing written
    NO_RECIPIENT = "no_recipient"  # no send result is stored for this number (yet)


class JobStore(Protocol):
    # ---- jobs
    def create_job(self, job: Job, chunks: Sequence[Sequence[str]]) -> None:
        """The chunks, then the job (so a visible job has all its chunks); the job must be new."""

    def put_rejected(self, job_id: str, entries: Sequence[Mapping[str, str]]) -> None: ...

    def rejected_page(
        self, job_id: str, total: int, *, limit: int, token: str | None
    ) -> Page[dict[str, Any]]:
        """`limit` rejected inputs from `token`'s position; InvalidPageToken for another listing's."""

    def get_job(self, job_id: str) -> Job | None: ...

    def mark_sending(self, job_id: str) -> None:
        """`queued` -> `sending`; nothing if the job is not `queued`."""

    def start_scheduled(self, job_id: str) -> bool:
        """`scheduled` -> `queued`, once; False if not scheduled, or stopped."""

    def request_stop(self, job_id: str, stop: Stop) -> bool:
        """Record the stop; False if the job is missing, finished or stopped already (the first wins)."""

    def job_stop(self, job_id: str) -> Stop | None: ...

    def finish(self, job: Job, final: JobStatus) -> Job | None:
        """Move `job` to `final` if it is still unfinished, nothing is queued and its stop is the same;
        the finished job to the one caller that moved it, else None."""

    def active_job_ids(self) -> list[str]:
        """Jobs the sweeper must look at: started or stopped, and not finished."""

    # ---- chunks
    def load_chunks(self, job_id: str, chunks: Sequence[int]) -> dict[int, Chunk]: ...

    def job_chunks(self, job_id: str) -> Iterator[Chunk]: ...

    def claim_chunk(
        self, job_id: str, chunk: int, attempt: str, lease_until: int, *, stop: Stop | None = None
    ) -> bool:
        """`pending` -> `claimed` (carrying `stop` for a claim to settle it); False if not pending."""

    def mark_done(self, job_id: str, chunk: int) -> None: ...

    # ---- recipients
    def put_results(self, job_id: str, chunk: int, results: Iterable[RecipientResult]) -> None:
        """Store every number's result (a later one replaces an earlier one)."""

    def numbers_with_results(self, job_id: str, numbers: Sequence[str]) -> set[str]: ...

    def apply_report(self, job_id: str, report: DeliveryReport, new: RecipientStatus) -> ReportWrite:
        """Move the recipient up to `new` with the report's fields, only from below and for its own id."""

    # ---- counts
    def applied_sequences(self, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per existing job, the last stream sequence its counts include, per recipient partition."""

    def apply_counts(self, update: CountsUpdate, expected: Mapping[str, int]) -> Job | None:
        """Add the update to the job's counts if its sequences are still `expected`; the job after it,
        or None when the guard failed."""
