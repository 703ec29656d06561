"""The services against the in-memory job store and queue: no boto3, no moto, no HTTP (test_no_aws.py
keeps it so). Clickatell's answers are judged by the same domain code as the real client's
(`judge_answer`), from bodies it would send."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import pytest
from bulksms.domain.attempts import Verdict, judge_answer
from bulksms.domain.job import Job, Stop
from bulksms.domain.message import Message
from bulksms.domain.optout import OPTED_OUT_ERROR
from bulksms.domain.send_messages import chunks_message
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.cancellation import CANCELLED_CODE, CANCELLED_REASON
from bulksms.service.counting import apply_changes
from bulksms.service.sending import Sender

from tests.memory_store import MemoryJobStore, new_job

CANCEL = Stop(JobStatus.CANCELLED, CANCELLED_CODE, CANCELLED_REASON)  # what cancel records

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs each task at once, in the caller's thread: the same order every run."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def message_id(number: str) -> str:
    return hashlib.md5(number.encode(), usedforsecurity=False).hexdigest()


@dataclass
class FakeClickatell:
    """A Provider answering every POST with `answer(numbers)`: by default one ID line per number."""

    answer: Callable[[Sequence[str]], str] = lambda numbers: "".join(
        f"ID: {message_id(n)} To: {n}\n" for n in numbers
    )
    max_numbers_per_request: int = 600
    opted_out_error: str = OPTED_OUT_ERROR
    posts: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def refusal(self, message: Message) -> tuple[str, str] | None:
        return None

    def send(self, message: Message, numbers: Sequence[str], client_message_id: str) -> Verdict:
        self.posts.append((client_message_id, tuple(numbers)))
        return judge_answer(numbers, 200, self.answer(numbers))


@dataclass
class RecordedQueue:
    """A `SendQueue` keeping what it was given: the message bodies SQS would get, built by the same
    domain/send_messages.py the SQS queue uses (its batching and retries are the adapter's own, tested
    with it), and the start messages' (job id, delay)."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    starts: list[tuple[str, float]] = field(default_factory=list)

    def enqueue(self, job_id: str, groups: Sequence[Sequence[int]], *, delay_s: float = 0) -> None:
        self.sent.extend(chunks_message(job_id, group) for group in groups)

    def enqueue_start(self, job_id: str, *, delay_s: float = 0) -> None:
        self.starts.append((job_id, delay_s))


@dataclass
class Finished:
    """The `on_finished` hook: the jobs it was told about, in order."""

    jobs: list[Job] = field(default_factory=list)

    def __call__(self, job: Job) -> None:
        self.jobs.append(job)


def numbers(count: int, start: int = 27_821_000_000) -> list[str]:
    return [str(start + i) for i in range(count)]


def create_job(
    store: MemoryJobStore,
    chunks: Sequence[Sequence[str]],
    status: JobStatus = JobStatus.QUEUED,
    **fields: Any,
) -> Job:
    job = new_job(chunks, status, **fields)
    store.create_job(job, chunks)
    return job


def count(store: MemoryJobStore, on_finished: Finished) -> Counter[str]:
    """What the counts function does with the stream's next batch."""
    return apply_changes(store, store.take_changes(), on_finished)


def statuses(store: MemoryJobStore, job_id: str) -> Counter[RecipientStatus]:
    return Counter(RecipientStatus(item["status"]) for item in store.recipients(job_id).values())


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


@pytest.fixture
def clickatell() -> FakeClickatell:
    return FakeClickatell()


@pytest.fixture
def finished() -> Finished:
    return Finished()


@pytest.fixture
def sender(store: MemoryJobStore, clickatell: FakeClickatell) -> Iterator[Sender]:
    yield Sender(store, clickatell, InlineExecutor(), lease_seconds=60, min_time_to_start_ms=1_000)
