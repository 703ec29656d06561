"""Applying a delivery report: one write, never backwards, and the answer Clickatell needs."""

from __future__ import annotations

from bulksms.domain.attempts import RecipientResult
from bulksms.domain.reports import DeliveryReport
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.service.counting import apply_changes
from bulksms.service.delivery import ReportOutcome, apply_report

from tests.memory_store import MemoryJobStore
from tests.unit.service.conftest import Finished, create_job, numbers

S = RecipientStatus
ID = "a" * 32


def test_each_outcome_of_a_report(store: MemoryJobStore) -> None:
    first, second = numbers(2)
    job = create_job(store, [[first, second]])
    store.put_results(job.job_id, 0, [RecipientResult(first, S.SUBMITTED, ID)])

    def report(to: str, code: str, message_id: str = ID, job_id: str | None = job.job_id) -> ReportOutcome:
        return apply_report(store, DeliveryReport(message_id, job_id, to, code, None, None))

    assert report(first, "003") is ReportOutcome.UNCHANGED  # on its way: nothing to write
    assert report(first, "001") is ReportOutcome.UNCHANGED  # tells nothing
    assert report(first, "004") is ReportOutcome.APPLIED
    assert report(first, "004") is ReportOutcome.UNCHANGED
    assert report(first, "004", message_id="b" * 32) is ReportOutcome.UNKNOWN_MESSAGE
    assert report(first, "004", job_id=None) is ReportOutcome.UNKNOWN_MESSAGE
    assert report(second, "004") is ReportOutcome.NOT_READY  # its result is not stored yet
    store.put_results(job.job_id, 0, [RecipientResult(second, S.FAILED, None, "114", "no route")])
    apply_changes(store, store.take_changes(), Finished())
    ended = store.get_job(job.job_id)
    assert ended is not None and ended.status is JobStatus.COMPLETED
    assert report(numbers(1, start=27_829_000_000)[0], "004") is ReportOutcome.UNKNOWN_MESSAGE  # not now
    item = store.recipient(job.job_id, first)
    assert item is not None and (item["status"], item["delivery_status"]) == ("delivered", "004")
