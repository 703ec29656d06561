"""A submission on the in-memory store and queue: what is recorded and queued, and the dry run's
agreement with it. Validation's every refusal is tested through the API (tests/integration)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import pytest
from bulksms.domain.ports import SuppressionStore
from bulksms.domain.status import JobStatus
from bulksms.models import SendRequest
from bulksms.service.submission import Limits, accepted_answer, dry_run, submit
from bulksms.service.suppressions import SuppressionList

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import InlineExecutor, RecordedQueue, numbers

LIMITS = Limits(chunk_size=2, chunks_per_message=2, max_recipients=100, max_parts=3)


@dataclass
class ListedNumbers:
    """The suppression list's reads a submission makes (`listed`, and `read_shard` for a job too large
    for these tests), over a set of numbers; no test here writes to the list."""

    numbers: set[str] = field(default_factory=set)

    def listed(self, numbers: Sequence[str], executor: Executor | None = None) -> set[str]:
        return self.numbers.intersection(numbers)

    def read_shard(self, shard: int, budget: int) -> list[str] | None:
        raise AssertionError("a job of a few numbers is checked by number")


class NoScheduler:
    def schedule_start(self, job_id: str, when: datetime) -> None:
        raise AssertionError("nothing here is scheduled")

    def cancel(self, job_id: str) -> None:
        raise AssertionError("nothing here is scheduled")


def request(to: list[str], **fields: Any) -> SendRequest:
    return SendRequest.model_validate({"to": to, "text": "hello", **fields})


def suppressions(listed: Sequence[str] = ()) -> SuppressionList:
    # Only the reads of a `SuppressionStore`: a write or listing here would fail loudly.
    return SuppressionList(cast("SuppressionStore", ListedNumbers(set(listed))), InlineExecutor())


def send(store: MemoryJobStore, queue: RecordedQueue, to: list[str], listed: Sequence[str] = ()) -> str:
    return submit(request(to), store, queue, LIMITS, NoScheduler(), suppressions(listed))


def test_a_job_is_recorded_with_its_chunks_and_queued(store: MemoryJobStore) -> None:
    queue = RecordedQueue()
    to = numbers(5)
    job_id = send(store, queue, [*to, to[0], "0821234567"])

    job = store.get_job(job_id)
    assert job is not None
    assert (job.status, job.counts.total, job.chunk_count) == (JobStatus.QUEUED, 5, 3)
    assert (job.duplicates_removed, job.rejected_count, job.suppressed) == (1, 1, 0)
    assert [chunk.numbers for chunk in store.job_chunks(job_id)] == [tuple(to[:2]), tuple(to[2:4]), (to[4],)]
    assert queue.sent == [{"job_id": job_id, "chunks": [0, 1]}, {"job_id": job_id, "chunks": [2]}]


def test_suppressed_numbers_are_left_out(store: MemoryJobStore) -> None:
    queue = RecordedQueue()
    to = numbers(4)
    job_id = send(store, queue, to, listed=[to[1], to[3]])

    job = store.get_job(job_id)
    assert job is not None and (job.counts.total, job.suppressed) == (2, 2)
    assert [chunk.numbers for chunk in store.job_chunks(job_id)] == [(to[0], to[2])]


@pytest.mark.parametrize("listed", [0, 2])
def test_a_dry_run_answers_what_the_send_accepts(store: MemoryJobStore, listed: int) -> None:
    """A dry run is given no store and no queue, so it writes nothing; its answer is the send's."""
    to = [*numbers(4), "0821234567"]
    priced = dry_run(request(to), LIMITS, suppressions(to[:listed]))
    job_id = send(store, RecordedQueue(), to, listed=to[:listed])

    sent = accepted_answer(store, job_id)
    shared = (
        "accepted",
        "suppressed",
        "duplicates_removed",
        "rejected_count",
        "rejected",
        "parts_per_message",
    )
    assert {name: priced[name] for name in shared} == {name: sent[name] for name in shared}
    assert priced["estimated_credits"] == 4 - listed
