"""Apply a Clickatell delivery report to its recipient: one conditional write, never a move backwards.

The job's counts are not touched here: the counts aggregator reads the recipient's change from the
table's stream, so a report costs one write whatever the number of reports a job gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from bulksms.domain.ports import JobStore, ReportWrite
from bulksms.domain.reports import DeliveryReport, InvalidReport, parse_report
from bulksms.domain.status import RecipientStatus


class ReportOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    UNKNOWN_MESSAGE = "unknown_message"
    NOT_READY = "not_ready"  # the job is sending but this number's send result is not stored yet


def apply_report(store: JobStore, report: DeliveryReport) -> ReportOutcome:
    if report.job_id is None:
        return ReportOutcome.UNKNOWN_MESSAGE  # not sent by this deployment (no climsgid of ours)
    new = report.status
    if new is None:
        return ReportOutcome.UNCHANGED  # 001 "message unknown" and codes we do not know tell nothing
    if new is RecipientStatus.SUBMITTED:
        # "On its way" (002, 003, 008, 011) changes nothing on a sent recipient, and DynamoDB bills a
        # refused conditional write like a write: at level 3 that would be a third of the report
        # path's writes. A number whose send answer was lost (`unknown`) is settled by its final report.
        return ReportOutcome.UNCHANGED
    written = store.apply_report(report.job_id, report, new)
    if written is ReportWrite.APPLIED:
        return ReportOutcome.APPLIED
    if written is ReportWrite.UNCHANGED:
        return ReportOutcome.UNCHANGED
    if written is ReportWrite.OTHER_MESSAGE:
        return ReportOutcome.UNKNOWN_MESSAGE
    # No send result for the number: worth Clickatell's retry while the job is sending, never after.
    job = store.get_job(report.job_id)
    sending = job is not None and not job.finished
    return ReportOutcome.NOT_READY if sending else ReportOutcome.UNKNOWN_MESSAGE


def apply_reports(
    store: JobStore, reports: Sequence[Mapping[str, str]]
) -> list[tuple[DeliveryReport, ReportOutcome] | InvalidReport]:
    """Check and apply each report of one callback in turn (each its own conditional write): its
    report and outcome, or why it was refused. One refused update does not hold back the others."""
    results: list[tuple[DeliveryReport, ReportOutcome] | InvalidReport] = []
    for fields in reports:
        try:
            report = parse_report(fields)
        except InvalidReport as error:
            results.append(error)
            continue
        results.append((report, apply_report(store, report)))
    return results
