"""The sweeper finishes what nobody else will: abandoned claims, stopped jobs, stalled chunks, jobs."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Executor

import pytest
from bulksms.domain.attempts import RecipientResult
from bulksms.domain.counts import counts_updates
from bulksms.domain.job import Chunk, ChunkState
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.sweeping import sweep

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import (
    CANCEL,
    Finished,
    InlineExecutor,
    RecordedQueue,
    count,
    create_job,
    numbers,
    statuses,
)

S = RecipientStatus


@pytest.fixture
def queue() -> RecordedQueue:
    return RecordedQueue()


@pytest.fixture
def executor() -> Executor:
    return InlineExecutor()


def run(store: MemoryJobStore, queue: RecordedQueue, executor: Executor, finished: Finished) -> Counter[str]:
    return sweep(store, queue, executor, requeue_after_s=300, chunks_per_message=2, on_finished=finished)


def test_an_abandoned_stop_claim_is_finished_as_the_stop_and_the_rest_settled(
    store: MemoryJobStore, queue: RecordedQueue, executor: Executor, finished: Finished
) -> None:
    to = numbers(3)
    job = create_job(store, [to[:1], to[1:2], to[2:]])
    assert store.request_stop(job.job_id, CANCEL)
    expired = int(time.time()) - 1
    store.set_chunk(Chunk(job.job_id, 0, ChunkState.CLAIMED, (to[0],), lease_until=expired, stop=CANCEL))
    tally = run(store, queue, executor, finished)
    assert tally == Counter({"abandoned_claims": 1, "stopped_chunks": 2})
    assert statuses(store, job.job_id) == Counter({S.CANCELLED: 3})
    count(store, finished)
    assert [j.status for j in finished.jobs] == [JobStatus.CANCELLED]
    assert job.job_id not in store.active_job_ids() and queue.sent == []


def test_a_stalled_job_gets_its_pending_chunks_queued_again(
    store: MemoryJobStore, queue: RecordedQueue, executor: Executor, finished: Finished
) -> None:
    to = numbers(3)
    job = create_job(store, [to[:1], to[1:2], to[2:]])  # updated long ago
    store.claim_chunk(job.job_id, 1, "a", int(time.time()) + 60)
    assert run(store, queue, executor, finished) == Counter({"requeued_chunks": 2})
    assert queue.sent == [{"job_id": job.job_id, "chunks": [0, 2]}]
    assert finished.jobs == []


def test_a_job_the_counts_left_unfinished_is_finished_once(
    store: MemoryJobStore, queue: RecordedQueue, executor: Executor, finished: Finished
) -> None:
    to = numbers(2)
    job = create_job(store, [to])
    store.claim_chunk(job.job_id, 0, "a", int(time.time()) + 60)
    store.put_results(job.job_id, 0, [RecipientResult(n, S.SUBMITTED, "f" * 32) for n in to])
    # Counted, but the counts function died before it finished the job; the sender died before it
    # marked its chunk done.
    for update in counts_updates(store.take_changes(), {}).values():
        store.apply_counts(update, {})
    assert run(store, queue, executor, finished) == Counter({"finished_jobs": 1})
    assert [(j.status, j.counts.by_status[S.SUBMITTED]) for j in finished.jobs] == [(JobStatus.COMPLETED, 2)]
    assert store.load_chunks(job.job_id, [0])[0].state is ChunkState.DONE
    assert run(store, queue, executor, finished) == Counter()  # no longer active
