"""Cancel records the stop and answers at once; the rest follows through the lifecycle."""

from __future__ import annotations

import pytest
from bulksms.domain.job import Job, Stop
from bulksms.domain.status import JobStatus
from bulksms.service.cancellation import CANCELLED_CODE, cancel
from bulksms.service.errors import NotFound, RequestError
from bulksms.service.sending import Sender

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import FakeClickatell, Finished, count, create_job, numbers


def plenty() -> int:
    return 60_000


def test_a_cancelled_job_settles_its_unsent_numbers_and_ends_cancelled(
    store: MemoryJobStore, sender: Sender, clickatell: FakeClickatell, finished: Finished
) -> None:
    job = create_job(store, [numbers(2)])
    stopped, settling = cancel(store, job.job_id)
    assert settling and stopped.stop is not None and stopped.stop.code == CANCELLED_CODE
    assert cancel(store, job.job_id) == (stopped, True)  # idempotent while it settles
    sender.process(job.job_id, [0], plenty)  # its queue message arrives: nothing is sent
    count(store, finished)
    assert clickatell.posts == [] and [j.status for j in finished.jobs] == [JobStatus.CANCELLED]
    ended, settling = cancel(store, job.job_id)
    assert ended.status is JobStatus.CANCELLED and not settling


def test_a_scheduled_job_is_unscheduled_after_its_stop(store: MemoryJobStore) -> None:
    job = create_job(store, [numbers(1)], JobStatus.SCHEDULED, send_at="2026-01-02T00:00:00Z")
    unscheduled: list[Job] = []
    cancel(store, job.job_id, unschedule=unscheduled.append)
    assert [j.job_id for j in unscheduled] == [job.job_id]
    assert not store.start_scheduled(job.job_id)  # a start that fires now finds the stop


def test_a_finished_or_failing_job_cannot_be_cancelled(
    store: MemoryJobStore, sender: Sender, finished: Finished
) -> None:
    done = create_job(store, [numbers(1)])
    sender.process(done.job_id, [0], plenty)
    count(store, finished)
    with pytest.raises(RequestError) as raised:
        cancel(store, done.job_id)
    assert (raised.value.code, raised.value.status) == ("job_finished", 409)
    failing = create_job(store, [numbers(1, start=27_823_000_000)])
    store.request_stop(failing.job_id, Stop.failed("301", "No Credit Left"))
    with pytest.raises(RequestError) as raised:
        cancel(store, failing.job_id)
    assert (raised.value.code, raised.value.status) == ("job_stopping", 409)
    with pytest.raises(NotFound):
        cancel(store, "0" * 32)
