"""The public API's request and response bodies: one definition for validation and OpenAPI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SenderId = Annotated[str, StringConstraints(pattern=r"^(\d{1,16}|[A-Za-z0-9 ]{1,11})$")]
# https only; the API also resolves the host and refuses private addresses (bulksms.domain.webhook_urls).
CallbackUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https://[^\s/]+(/\S*)?$")]
HexString = Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2})+$")]


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    to: list[str] | str = Field(
        description="Numbers in international format, as a list or one comma-separated string"
    )
    text: str = Field(description="The message; hex data when encoding is binary")
    sender: SenderId | None = Field(
        default=None, alias="from", description="Sender ID: up to 16 digits or 11 letters/digits"
    )
    mo: bool = Field(default=False, description="Send from a two-way number (needs from)")
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


class RejectedNumber(BaseModel):
    to: str = Field(description="The input as sent, cut after 32 characters with a '…[truncated]' marker")
    reason: str


class JobLinks(BaseModel):
    self_: str = Field(alias="self")
    recipients: str
    rejected: str


class SendAccepted(BaseModel):
    job_id: str
    status: str
    accepted: int
    duplicates_removed: int
    normalised: int
    rejected: list[RejectedNumber] = Field(
        description="The first rejected inputs (at most 100, and 16 KB); all of them: links.rejected"
    )
    rejected_count: int
    encoding: str
    parts_per_message: int
    client_reference: str | None = None
    links: JobLinks


class Counts(BaseModel):
    total: int
    queued: int
    submitted: int
    delivered: int
    failed: int
    expired: int
    unknown: int
    cancelled: int


class JobView(BaseModel):
    job_id: str
    status: str
    created_at: str
    updated_at: str | None = None
    finished_at: str | None = None
    client_reference: str | None = None
    encoding: str
    parts_per_message: int
    counts: Counts
    charge_total: str = Field(
        "0",
        description="Sum of the charges delivery reports gave, as a decimal string",
        pattern=r"^\d+(\.\d+)?$",
    )
    stop: dict[str, str] | None = None


class RecipientView(BaseModel):
    to: str
    status: str
    api_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    delivery_status: str | None = None
    charge: str | None = None
    updated_at: str | None = None


class RecipientsPage(BaseModel):
    items: list[RecipientView]
    next_token: str | None


class RejectedPage(BaseModel):
    items: list[RejectedNumber]
    next_token: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
