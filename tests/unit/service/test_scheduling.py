"""Starting a scheduled job when its schedule fires: once, not early, never after a cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bulksms.domain.status import JobStatus
from bulksms.service.scheduling import start_job

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import CANCEL, RecordedQueue, create_job, numbers


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def test_a_due_job_starts_once_and_an_early_start_is_put_off() -> None:
    store, queue = MemoryJobStore(), RecordedQueue()
    due = create_job(
        store,
        [numbers(1), numbers(1, start=27_822_000_000)],
        JobStatus.SCHEDULED,
        send_at=at(-timedelta(seconds=1)),
    )
    assert start_job(store, queue, due.job_id, chunks_per_message=1) == "started"
    assert queue.sent == [{"job_id": due.job_id, "chunks": [0]}, {"job_id": due.job_id, "chunks": [1]}]
    started = store.get_job(due.job_id)
    assert started is not None and started.status is JobStatus.QUEUED
    early = create_job(
        store, [numbers(1, start=27_823_000_000)], JobStatus.SCHEDULED, send_at=at(timedelta(minutes=1))
    )
    assert start_job(store, queue, early.job_id, chunks_per_message=1) == "delayed"
    ((job_id, delay_s),) = queue.starts
    assert job_id == early.job_id and 0 < delay_s <= 60


def test_a_cancelled_schedule_does_not_start() -> None:
    store, queue = MemoryJobStore(), RecordedQueue()
    job = create_job(store, [numbers(1)], JobStatus.SCHEDULED, send_at=at(-timedelta(seconds=1)))
    store.request_stop(job.job_id, CANCEL)
    assert start_job(store, queue, job.job_id, chunks_per_message=1) == "ignored"
    assert queue.sent == []
