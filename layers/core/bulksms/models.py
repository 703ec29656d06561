"""The public API's request and response bodies: one definition for validation and OpenAPI.

No `from __future__ import annotations` here: pydantic would then compile and evaluate every field's
annotation from its string when the API's handler is imported (bench phase 3)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bulksms.domain.message import SENDER_ID_PATTERN, Encoding
from bulksms.domain.status import JobStatus, RecipientStatus

Count = Annotated[int, Field(ge=0)]

# https only; the API also resolves the host and refuses private addresses (bulksms.domain.webhook_urls).
CallbackUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https://[^\s/]+(/\S*)?$")]
HexString = Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2})+$")]


class ApiModel(BaseModel):
    """Every body's base: a model's validator is built when a request first needs it, not at import,
    so a cold container pays only for the models of the route it serves."""

    model_config = ConfigDict(defer_build=True)


class SendRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    to: list[str] | str = Field(
        description="Numbers in international format, as a list or one comma-separated string"
    )
    text: str = Field(description="The message; hex data when encoding is binary")
    # The pattern is documented here and checked by bulksms.domain.message.sender_problem, which
    # says what is wrong in words a pattern cannot.
    sender: str | None = Field(
        default=None,
        alias="from",
        description="Sender ID: up to 16 digits, or up to 11 letters and digits (no spaces)",
        json_schema_extra={"pattern": SENDER_ID_PATTERN},
    )
    mo: bool = Field(
        default=False, description="Send from a two-way number: needs from, in digits (your two-way number)"
    )
    callback: int | None = Field(
        default=None, ge=0, le=7, description="Clickatell delivery callback level 0-7"
    )
    encoding: Literal["auto", "gsm7", "ucs2", "binary"] = "auto"
    msg_type: Literal["SMS_TEXT", "SMS_FLASH"] = "SMS_TEXT"
    udh: HexString | None = Field(default=None, description="User data header in hex; binary only")
    client_reference: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    status_callback_url: CallbackUrl | None = Field(
        default=None,
        description=(
            "Gets one signed POST with the final counts when the job finishes: https, to a public address"
        ),
    )
    send_at: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        description="ISO-8601 time with a zone, at most 7 days ahead: the job is `scheduled` until then",
        json_schema_extra={"format": "date-time"},
    )
    validity_minutes: int | None = Field(
        default=None, ge=1, description="Minutes Clickatell keeps trying to deliver (legacy API: 1-1440)"
    )
    priority: int | None = Field(
        default=None, ge=1, le=3, description="Clickatell priority queue: 1 (highest) to 3 (the default)"
    )
    dry_run: bool = Field(
        default=False, description="Validate and price the request (200); nothing is written or sent"
    )


class RejectedNumber(ApiModel):
    to: str = Field(description="The input as sent, cut after 32 characters with a '…[truncated]' marker")
    reason: str


class JobLinks(ApiModel):
    self_: str = Field(alias="self")
    recipients: str
    rejected: str


class SendSummary(ApiModel):
    """What a send request amounts to: the fields of both the 202 answer and a dry run's."""

    status: str
    accepted: Annotated[int, Field(ge=1)]
    duplicates_removed: Count
    suppressed: Annotated[
        int, Field(ge=0, description="Valid numbers left out: they are on the suppression list")
    ] = 0
    normalised: Count
    rejected: list[RejectedNumber] = Field(
        description="The first rejected inputs (at most 100, and 16 KB); a job lists them all: links.rejected"
    )
    rejected_count: Count
    encoding: Encoding
    parts_per_message: Annotated[int, Field(ge=1)]
    client_reference: str | None = None
    send_at: str | None = None


class SendAccepted(SendSummary):
    status: JobStatus
    job_id: str
    links: JobLinks


class DryRunResult(SendSummary):
    """No job exists, so there is no job_id and no links."""

    status: Literal["dry_run"]
    estimated_credits: Count = Field(description="parts per message x accepted numbers")


class Counts(ApiModel):
    total: Count
    queued: Count
    submitted: Count
    delivered: Count
    failed: Count
    expired: Count
    unknown: Count
    cancelled: Count


class StopView(ApiModel):
    outcome: Literal[JobStatus.FAILED, JobStatus.CANCELLED]
    code: str = Field(description="Clickatell's error code, or what stopped the job (e.g. CANCELLED)")
    reason: str


class JobView(ApiModel):
    job_id: str
    status: JobStatus
    created_at: str
    updated_at: str | None = None
    finished_at: str | None = None
    client_reference: str | None = None
    encoding: Encoding
    parts_per_message: Annotated[int, Field(ge=1)]
    counts: Counts
    charge_total: str = Field(
        "0",
        description="Sum of the charges delivery reports gave, as a decimal string",
        pattern=r"^\d+(\.\d+)?$",
    )
    suppressed: Annotated[
        int, Field(ge=0, description="Numbers left out of the job: on the suppression list")
    ] = 0
    stop: StopView | None = None
    send_at: str | None = None


class JobsPage(ApiModel):
    items: list[JobView]
    next_token: str | None


class RecipientView(ApiModel):
    to: str
    status: RecipientStatus
    api_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    delivery_status: str | None = None
    charge: str | None = None
    updated_at: str | None = None


class RecipientsPage(ApiModel):
    items: list[RecipientView]
    next_token: str | None


Reason = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SuppressionRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: Reason | None = Field(default=None, description="Why the number must not be sent to")


class SuppressionBulkRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    numbers: list[str] = Field(
        min_length=1, max_length=10_000, description="Up to 10,000 numbers, normalised like recipients"
    )
    reason: Reason | None = None


class SuppressionBulkAnswer(ApiModel):
    added: int
    duplicates_removed: int
    rejected: list[RejectedNumber]
    rejected_count: int


class Suppression(ApiModel):
    number: str
    reason: str
    source: Literal["api", "keyword", "provider"]
    created_at: str
    updated_at: str


class SuppressionsPage(ApiModel):
    items: list[Suppression]
    next_token: str | None


class InboundMessageView(ApiModel):
    mo_message_id: str = Field(description="Clickatell's moMsgId")
    from_: str = Field(alias="from", description="The handset that replied")
    to: str = Field(description="Your two-way number")
    text: str
    charset: str | None = None
    udh: str | None = None
    sent_at: str | None = Field(default=None, description="Clickatell's timestamp, in UTC")
    received_at: str
    keyword: Literal["stop", "start"] | None = None
    action: Literal["suppressed", "unsuppressed", "none"] | None = None


class InboundPage(ApiModel):
    items: list[InboundMessageView]
    next_token: str | None


class RejectedPage(ApiModel):
    items: list[RejectedNumber]
    next_token: str | None


class ErrorDetail(ApiModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(ApiModel):
    error: ErrorDetail
