"""Apply Clickatell delivery callbacks to recipients, never moving one backwards."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.store import Store
from bulksms.domain.status import (
    DELIVERY_STATUS_TEXT,
    FINAL_JOB_STATUSES,
    RecipientStatus,
    can_move,
    delivery_status,
)

logger = Logger(child=True)

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_MOVE_ATTEMPTS = 3


class ReportOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    UNKNOWN_MESSAGE = "unknown_message"
    NOT_READY = "not_ready"  # the job exists but this number's send result is not stored yet
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    api_message_id: str
    client_message_id: str
    to: str
    status_code: str
    charge: str | None
    timestamp: str | None


def _field(fields: Mapping[str, str], *names: str) -> str:
    lowered = {key.lower(): value for key, value in fields.items()}
    return next((lowered[name.lower()] for name in names if lowered.get(name.lower())), "")


def parse_report(fields: Mapping[str, str]) -> DeliveryReport | None:
    """Read the callback's fields (names case-insensitive: clients use apiMsgId and apimsgid)."""
    report = DeliveryReport(
        api_message_id=_field(fields, "apiMsgId"),
        client_message_id=_field(fields, "cliMsgId"),
        to=_field(fields, "to"),
        status_code=_field(fields, "status").zfill(3),
        charge=_field(fields, "charge") or None,
        timestamp=_field(fields, "timestamp") or None,
    )
    if not report.to.isdigit() or not report.status_code.isdigit():
        return None
    return report


def apply_report(store: Store, report: DeliveryReport) -> ReportOutcome:
    job_id = report.client_message_id
    if not _JOB_ID.match(job_id):
        return ReportOutcome.UNKNOWN_MESSAGE
    new = delivery_status(report.status_code)
    fields: dict[str, Any] = {"delivery_status": report.status_code}
    if report.api_message_id:
        fields["api_message_id"] = report.api_message_id
    if report.charge:
        fields["charge"] = report.charge
    if report.timestamp:
        fields["reported_at"] = report.timestamp
    if new in (RecipientStatus.FAILED, RecipientStatus.EXPIRED):
        fields["error_code"] = report.status_code
        fields["error"] = DELIVERY_STATUS_TEXT.get(report.status_code, "delivery failed")
    for _ in range(_MOVE_ATTEMPTS):
        item = store.get_recipient(job_id, report.to)
        if item is None:
            # While the job is sending, its result may not be stored yet: worth a retry. After, never.
            job = store.get_job(job_id)
            sending = job is not None and job["status"] not in FINAL_JOB_STATUSES
            return ReportOutcome.NOT_READY if sending else ReportOutcome.UNKNOWN_MESSAGE
        known_id = item.get("api_message_id")
        if known_id and report.api_message_id and known_id != report.api_message_id:
            return ReportOutcome.UNKNOWN_MESSAGE
        current = RecipientStatus(item["status"])
        if new is None or not can_move(current, new):
            if new == current:
                store.annotate_recipient(job_id, report.to, current, fields)
            return ReportOutcome.UNCHANGED
        if store.move_recipient(job_id, report.to, current, new, fields):
            return ReportOutcome.APPLIED
    return ReportOutcome.UNCHANGED
