"""What the services need from the adapters they are given, in domain types only: the `JobStore`,
the queues, the start scheduler, the send-rate cap, the suppression list's and the inbound messages'
storage. A service calls these and constructs none (runtime.py builds the adapters), so it imports no
adapter and the service tests run on in-memory stand-ins, without boto3.

`adapters.store.Store` (DynamoDB) implements the `JobStore`, and so does the in-memory store the
service tests use; one contract test suite runs against both (tests/contract/test_job_store.py).
Every write that may race another is conditional and says whether it happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
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


# ---- the queues (adapters/queue.py) ------------------------------------------------------------------


class SendQueue(Protocol):
    """The sender's queue; its messages are domain/send_messages.py's."""

    def enqueue(self, job_id: str, groups: Sequence[Sequence[int]], *, delay_s: float = 0) -> None:
        """One message per group of chunk indexes, visible after `delay_s`."""

    def enqueue_start(self, job_id: str, *, delay_s: float = 0) -> None:
        """A scheduled job's start message, visible after `delay_s`."""


class WebhookQueue(Protocol):
    def send(self, bodies: Sequence[Mapping[str, Any]], *, delay_s: float = 0) -> None:
        """One delivery for the webhook function per body."""


# ---- the start scheduler (adapters/scheduler.py) ------------------------------------------------------


class StartScheduler(Protocol):
    def schedule_start(self, job_id: str, when: datetime) -> None:
        """Put the job's start message on the send queue at `when`; repeating it is fine."""

    def cancel(self, job_id: str) -> None:
        """Drop the job's start; one that already fired is fine."""


# ---- the send-rate cap (adapters/rate.py) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    start_ms: int = 0  # when the booked slot starts (epoch ms); 0: at once
    retry_after_s: float = 0.0  # above 0: nothing was booked, ask again after this


class SendRate(Protocol):
    def acquire(self, recipients: int) -> Slot:
        """Book a slot for `recipients`, or say when to ask again (`retry_after_s`)."""

    def wait(self, slot: Slot) -> None:
        """Sleep until the slot starts: call it just before the POST."""


_NOW = Slot()


class NoCap:
    """MaxSendRate 0: only the concurrency parameters bound the rate."""

    def acquire(self, recipients: int) -> Slot:
        return _NOW

    def wait(self, slot: Slot) -> None:
        return None


# ---- the suppression list (adapters/suppressions.py) ----------------------------------------------------

SUPPRESSION_SHARDS = 16  # the list is spread over this many shards, each read whole by `read_shard`
SUPPRESSION_READ_BATCH = 100  # numbers per read of `listed` (DynamoDB's BatchGetItem limit)


@dataclass(frozen=True, slots=True)
class Entry:
    number: str
    reason: str
    source: str


class SuppressionStore(Protocol):
    """Entries are items with `number`, `reason`, `source`, `created_at` and `updated_at`."""

    def get(self, number: str) -> dict[str, Any] | None: ...

    def put(self, entry: Entry) -> dict[str, Any]:
        """Add or update an entry; `created_at` stays the first time the number was added."""

    def add_if_absent(self, entry: Entry) -> bool:
        """Add an entry unless the number is already listed (its reason and source then stay)."""

    def put_many(self, entries: Iterable[Entry]) -> None:
        """Bulk add (an existing entry is replaced)."""

    def delete(self, number: str, *, only_source: str | None = None) -> dict[str, Any] | None:
        """Remove an entry (with `only_source`, only one that source made) and return it; None if
        nothing was removed."""

    def page(self, *, limit: int, token: str | None) -> Page[dict[str, Any]]:
        """A page may hold fewer than `limit` (even none) while `next_token` is set."""

    def listed(self, numbers: Sequence[str], executor: Executor | None = None) -> set[str]:
        """Which of `numbers` are listed, strongly consistent."""

    def read_shard(self, shard: int, budget: int) -> list[str] | None:
        """Every number of one shard (0 to SUPPRESSION_SHARDS - 1), strongly consistent, or None once
        it holds more than `budget`."""


# ---- inbound messages (adapters/inbound.py) -------------------------------------------------------------


class InboundStore(Protocol):
    def add(self, sort_key: str, item: dict[str, Any]) -> bool:
        """Store one message; False when this key is already stored (a repeated callback)."""

    def page(self, *, limit: int, token: str | None) -> Page[dict[str, Any]]:
        """Newest first."""
