"""Clickatell delivery reports: read every transport of the reference (§5) into one checked report.

Transports: HTTP GET (query string), HTTP POST (form), XML in the `data` parameter (GET or POST) or
as the body, and JSON POST. Field names are matched in any case (clients and transports differ:
apiMsgId, apimsgid, APIMSGID). Whatever cannot be read is refused with a reason, so nothing is written
for it; every field is bounded, so nothing a caller sends can exceed what the store accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bulksms.domain import one_api, xml_callback
from bulksms.domain.status import DELIVERY_STATUS_TEXT, RecipientStatus, delivery_status

# A report is a few hundred bytes; a One API status callback holds at most 100 updates of ~200 bytes.
MAX_BODY_BYTES = 32 * 1024
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_NUMBER = re.compile(r"^\+?([0-9]{1,15})$")  # E.164: at most 15 digits
_STATUS = re.compile(r"^[0-9]{1,3}$")
_CHARGE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,8})?$")
_TIMESTAMP = re.compile(r"^[0-9A-Za-z:.+\- ]{1,40}$")


class InvalidReport(ValueError):
    """The request is not a delivery report we can read; the reason says why."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    api_message_id: str
    job_id: str | None  # our climsgid; None when the message was not sent by this deployment
    to: str
    status_code: str

    charge: str | None
    timestamp: str | None

    @property
    def status(self) -> RecipientStatus | None:
        """Our status for the report's code; None for codes that tell nothing (001, unknown codes)."""
        return delivery_status(self.status_code)

    def fields(self) -> dict[str, str]:
        """What the report records on its recipient besides the status."""
        recorded = {"delivery_status": self.status_code, "api_message_id": self.api_message_id}
        if self.charge is not None:
            recorded["charge"] = self.charge
        if self.timestamp is not None:
            recorded["reported_at"] = self.timestamp
        if self.status in (RecipientStatus.FAILED, RecipientStatus.EXPIRED):
            recorded["error_code"] = self.status_code
            recorded["error"] = DELIVERY_STATUS_TEXT.get(self.status_code, "delivery failed")
        return recorded


def request_reports(
    query: Sequence[tuple[str, str]] | Mapping[str, str], content_type: str | None, body: bytes
) -> list[dict[str, str]]:
    """The fields of every report a callback request carries (names lower-cased): each status update of
    a One API callback (`event.messageStatusUpdate`), or the one report of any other transport."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidReport(f"body larger than {MAX_BODY_BYTES} bytes")
    if body.lstrip().startswith(b"{"):
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # request_fields says why
        if isinstance(document, dict):
            try:
                updates = one_api.status_updates(document)
            except one_api.BadStatusCallback as error:
                raise InvalidReport(str(error)) from error
            if updates is not None:
                return [{name.lower(): value for name, value in update.items()} for update in updates]
    return [request_fields(query, content_type, body)]


def request_fields(
    query: Sequence[tuple[str, str]] | Mapping[str, str], content_type: str | None, body: bytes
) -> dict[str, str]:
    """Every field of a callback request, names lower-cased, from its query string and its body."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidReport(f"body larger than {MAX_BODY_BYTES} bytes")
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    stripped = body.lstrip()
    if stripped:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidReport("body is not UTF-8") from error
        if media == "application/json" or stripped.startswith(b"{"):
            pairs.extend(_json_fields(text))
        elif media in ("text/xml", "application/xml") or stripped.startswith(b"<"):
            pairs.extend(_xml_fields(text).items())
        else:
            pairs.extend(_form_fields(text))
    fields = {name.lower(): value for name, value in pairs}
    if (data := fields.pop("data", None)) is not None:
        fields.update(_xml_fields(data))
    return fields


def _form_fields(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidReport("body is neither a form, XML nor a JSON object") from error


def _json_fields(text: str) -> list[tuple[str, str]]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidReport("body is not valid JSON") from error
    if not isinstance(document, dict):
        raise InvalidReport("JSON body must be an object")
    if (one_api_report := one_api.report_fields(document)) is not None:  # the One API's callback shape
        return list(one_api_report.items())
    return [
        (str(name), str(value))
        for name, value in document.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]


def _xml_fields(text: str) -> dict[str, str]:
    try:
        fields = xml_callback.callback_fields(text)
    except xml_callback.MalformedXml as error:
        raise InvalidReport(str(error)) from error
    return {name: value.strip() for name, value in fields.items()}


def parse_report(fields: Mapping[str, str]) -> DeliveryReport:
    """Check a report's fields (names lower-cased). Raises InvalidReport naming the field."""
    api_message_id = _required(fields, "apiMsgId")
    if not _MESSAGE_ID.match(api_message_id):
        raise InvalidReport("apiMsgId is not a Clickatell message id")
    to_match = _NUMBER.match(_required(fields, "to").replace(" ", ""))
    if not to_match:
        raise InvalidReport("to is not a phone number of at most 15 digits")
    status = _required(fields, "status")
    if not _STATUS.match(status):
        raise InvalidReport("status is not a Clickatell status code")
    charge = fields.get("charge") or None
    if charge is not None and not _CHARGE.match(charge):
        raise InvalidReport("charge is not a decimal number")
    timestamp = fields.get("timestamp") or None
    if timestamp is not None and not _TIMESTAMP.match(timestamp):
        raise InvalidReport("timestamp is not a time")
    client_message_id = fields.get("climsgid", "")
    return DeliveryReport(
        api_message_id=api_message_id,
        job_id=client_message_id if _JOB_ID.match(client_message_id) else None,
        to=to_match.group(1),
        status_code=status.zfill(3),
        charge=charge,
        timestamp=timestamp,
    )


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name.lower(), "").strip()
    if not value:
        raise InvalidReport(f"{name} is missing")
    return value
