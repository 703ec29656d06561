"""Recipient and job status model, and Clickatell delivery status codes mapped onto it."""

from __future__ import annotations

from enum import StrEnum


class RecipientStatus(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its send_at; nothing of it is queued for sending yet
    QUEUED = "queued"
    SENDING = "sending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED, JobStatus.FAILED})
FINAL_RECIPIENT_STATUSES = frozenset(
    {RecipientStatus.DELIVERED, RecipientStatus.FAILED, RecipientStatus.EXPIRED, RecipientStatus.CANCELLED}
)

# A status only ever moves up this ladder, so repeated or out-of-order callbacks cannot move a
# recipient backwards. `unknown` sits below `submitted`: a callback proves an ambiguous send went out.
_RANK = {
    RecipientStatus.QUEUED: 0,
    RecipientStatus.UNKNOWN: 1,
    RecipientStatus.SUBMITTED: 2,
    RecipientStatus.DELIVERED: 3,
    RecipientStatus.FAILED: 3,
    RecipientStatus.EXPIRED: 3,
    RecipientStatus.CANCELLED: 3,
}


def can_move(current: RecipientStatus, new: RecipientStatus) -> bool:
    """Whether a delivery report may move a recipient from `current` to `new`."""
    return _RANK[new] > _RANK[current]


def statuses_below(new: RecipientStatus) -> tuple[RecipientStatus, ...]:
    """The statuses a recipient may be in for a report to move it to `new`: the write's condition."""
    return tuple(status for status in RecipientStatus if can_move(status, new))


# Clickatell message status codes (API doc section 4) -> our status. Intermediate codes keep or
# establish `submitted`; 001 ("message unknown") tells nothing and maps to None.
DELIVERY_STATUS: dict[str, RecipientStatus | None] = {
    "001": None,
    "002": RecipientStatus.SUBMITTED,
    "003": RecipientStatus.SUBMITTED,
    "004": RecipientStatus.DELIVERED,
    "005": RecipientStatus.FAILED,
    "006": RecipientStatus.FAILED,
    "007": RecipientStatus.FAILED,
    "008": RecipientStatus.SUBMITTED,
    "009": RecipientStatus.FAILED,
    "010": RecipientStatus.EXPIRED,
    "011": RecipientStatus.SUBMITTED,
    "012": RecipientStatus.FAILED,
    "014": RecipientStatus.FAILED,
}

DELIVERY_STATUS_TEXT = {
    "001": "Message unknown",
    "002": "Message queued",
    "003": "Delivered to gateway",
    "004": "Received by recipient",
    "005": "Error with message",
    "006": "User cancelled message delivery",
    "007": "Error delivering message",
    "008": "OK",
    "009": "Routing error",
    "010": "Message expired",
    "011": "Message queued for later delivery",
    "012": "Out of credit",
    "014": "Maximum MT limit exceeded",
}


def delivery_status(code: str) -> RecipientStatus | None:
    """Our status for a Clickatell status code; None for codes that carry no information."""
    return DELIVERY_STATUS.get(code.strip().zfill(3))
