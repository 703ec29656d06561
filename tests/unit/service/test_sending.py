"""The sender against the in-memory store: claim, POST, record every number, settle what it must not send."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from bulksms.domain.job import Chunk, ChunkState, Stop
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.sending import RetryLater, Sender

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import (
    CANCEL,
    FakeClickatell,
    Finished,
    InlineExecutor,
    count,
    create_job,
    numbers,
    statuses,
)

S = RecipientStatus


def plenty() -> int:
    return 60_000


def test_a_message_is_sent_recorded_settled_and_counted_to_completion(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell, finished: Finished
) -> None:
    to = numbers(5)
    job = create_job(store, [to[:3], to[3:]])
    assert sender.process(job.job_id, [0, 1], plenty) == Counter({S.SUBMITTED: 5})
    assert clickatell.posts == [(job.job_id, tuple(to[:3])), (job.job_id, tuple(to[3:]))]
    assert [c.state for c in store.job_chunks(job.job_id)] == [ChunkState.DONE, ChunkState.DONE]
    assert statuses(store, job.job_id) == Counter({S.SUBMITTED: 5})
    sending = store.get_job(job.job_id)
    assert sending is not None and sending.status is JobStatus.SENDING  # the counts finish it
    assert count(store, finished)["jobs_finished"] == 1
    assert [(j.job_id, j.status) for j in finished.jobs] == [(job.job_id, JobStatus.COMPLETED)]


def test_a_redelivered_message_sends_nothing_again(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell
) -> None:
    job = create_job(store, [numbers(2)])
    sender.process(job.job_id, [0], plenty)
    assert sender.process(job.job_id, [0], plenty) == Counter()
    assert len(clickatell.posts) == 1


def test_chunks_of_a_stopped_job_are_settled_with_the_stop_and_not_sent(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell, finished: Finished
) -> None:
    job = create_job(store, [numbers(2), numbers(1, start=27_822_000_000)])
    assert store.request_stop(job.job_id, CANCEL)
    sender.process(job.job_id, [0, 1], plenty)
    assert clickatell.posts == []
    assert statuses(store, job.job_id) == Counter({S.CANCELLED: 3})
    item = store.recipient(job.job_id, "27821000000")
    assert item is not None
    assert (item["status"], item["error_code"], item["error"]) == ("cancelled", CANCEL.code, CANCEL.reason)
    count(store, finished)
    assert [j.status for j in finished.jobs] == [JobStatus.CANCELLED]


def test_an_account_error_stops_the_job_and_its_later_chunks_are_not_sent(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell, finished: Finished
) -> None:
    clickatell.answer = lambda numbers: "ERR: 301, No Credit Left\n"
    job = create_job(store, [numbers(2), numbers(2, start=27_822_000_000)])
    sender.process(job.job_id, [0], plenty)
    assert store.job_stop(job.job_id) == Stop.failed("301", "No Credit Left")
    sender.process(job.job_id, [1], plenty)
    assert len(clickatell.posts) == 1
    assert statuses(store, job.job_id) == Counter({S.FAILED: 4})
    count(store, finished)
    assert [j.status for j in finished.jobs] == [JobStatus.FAILED]


def test_a_live_claim_is_left_to_its_claimer_and_an_expired_one_becomes_unknown(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell
) -> None:
    to = numbers(4)
    job = create_job(store, [to[:2], to[2:]])
    store.set_chunk(
        Chunk(job.job_id, 0, ChunkState.CLAIMED, tuple(to[:2]), lease_until=int(time.time()) + 60)
    )
    store.set_chunk(Chunk(job.job_id, 1, ChunkState.CLAIMED, tuple(to[2:]), lease_until=int(time.time()) - 1))
    store.put_results(job.job_id, 1, [])  # the dead claimer stored nothing
    sender.process(job.job_id, [0, 1], plenty)
    assert clickatell.posts == []
    first, second = store.job_chunks(job.job_id)
    assert first.state is ChunkState.CLAIMED and second.state is ChunkState.DONE
    assert statuses(store, job.job_id) == Counter({S.UNKNOWN: 2})


def test_too_little_time_left_hands_the_chunks_back_unclaimed(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell
) -> None:
    job = create_job(store, [numbers(2)])
    with pytest.raises(RetryLater):
        sender.process(job.job_id, [0], lambda: 10)
    assert clickatell.posts == [] and store.load_chunks(job.job_id, [0])[0].state is ChunkState.PENDING


def test_a_scheduled_job_is_not_sent_before_it_starts(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell
) -> None:
    job = create_job(store, [numbers(2)], JobStatus.SCHEDULED, send_at="2026-01-02T00:00:00Z")
    assert sender.process(job.job_id, [0], plenty) == Counter()
    assert clickatell.posts == []


def test_numbers_clickatell_reports_opted_out_go_to_the_suppression_hook(
    store: MemoryJobStore, clickatell: FakeClickatell
) -> None:
    first, second = numbers(2)
    clickatell.answer = lambda sent: f"ID: {'e' * 32} To: {first}\nERR: 122, Opted out To: {second}\n"
    handed: list[tuple[list[str], str]] = []
    sender = Sender(
        store,
        clickatell,
        InlineExecutor(),
        lease_seconds=60,
        min_time_to_start_ms=1_000,
        on_opted_out=lambda to, reason: handed.append((to, reason)),
    )
    job = create_job(store, [[first, second]])
    assert sender.process(job.job_id, [0], plenty) == Counter({S.SUBMITTED: 1, S.FAILED: 1})
    assert handed == [([second], "Clickatell: error 122, Opted out")]
