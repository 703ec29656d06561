"""The counts service: a batch counts once however often it comes, and the job ends once."""

from __future__ import annotations

from collections import Counter

from bulksms.domain.attempts import RecipientResult
from bulksms.domain.job import Job
from bulksms.domain.reports import DeliveryReport
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.counting import apply_changes
from bulksms.service.delivery import apply_report

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import Finished, create_job, numbers

S = RecipientStatus


def sent(store: MemoryJobStore, count: int) -> tuple[Job, list[str]]:
    """A job whose numbers were all submitted, the changes not counted yet."""
    to = numbers(count)
    job = create_job(store, [to])
    store.put_results(job.job_id, 0, [RecipientResult(n, S.SUBMITTED, f"{i:032x}") for i, n in enumerate(to)])
    return job, to


def test_a_redelivered_batch_counts_once_and_finishes_the_job_once(
    store: MemoryJobStore, finished: Finished
) -> None:
    job, _ = sent(store, 3)
    batch = store.take_changes()
    assert apply_changes(store, batch, finished) == Counter({"jobs_updated": 1, "jobs_finished": 1})
    assert apply_changes(store, batch, finished) == Counter()  # delivered again: nothing changes
    (ended,) = finished.jobs
    assert ended.status is JobStatus.COMPLETED and ended.counts.by_status[S.SUBMITTED] == 3
    assert store.get_job(job.job_id) == ended


def test_reports_after_the_end_move_the_counts_but_finish_nothing(
    store: MemoryJobStore, finished: Finished
) -> None:
    job, to = sent(store, 2)
    apply_changes(store, store.take_changes(), finished)
    report = DeliveryReport(f"{0:032x}", job.job_id, to[0], "004", "0.75", None)
    assert apply_report(store, report).value == "applied"
    assert apply_changes(store, store.take_changes(), finished) == Counter({"jobs_updated": 1})
    counted = store.get_job(job.job_id)
    assert counted is not None and counted.counts.by_status[S.DELIVERED] == 1
    assert str(counted.charge_total) == "0.75" and len(finished.jobs) == 1


def test_changes_of_a_job_that_is_gone_are_dropped(store: MemoryJobStore, finished: Finished) -> None:
    other = MemoryJobStore()
    job = create_job(other, [numbers(1)])
    other.put_results(job.job_id, 0, [RecipientResult(numbers(1)[0], S.FAILED, None, "114", "no route")])
    assert apply_changes(store, other.take_changes(), finished) == Counter({"gone_jobs": 1})
