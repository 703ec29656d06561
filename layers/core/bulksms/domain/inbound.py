"""Clickatell MO (reply) callbacks: every transport and shape, read into inbound messages.

The legacy HTTP API sends `api_id, moMsgId, from, to, timestamp, text, charset, udh` as form fields
(GET or POST), as an XML `<callback>` document (in the `data` parameter, GET or POST, or as the body),
or as a JSON object with the same names. `timestamp` is `YYYY-MM-DD HH:MM:SS` in GMT+2 (UNIX seconds
or milliseconds are accepted too); Unicode text arrives as hex UCS-2 (UTF-16BE) with a `charset` saying
so. The One API posts JSON of its own (`domain.one_api.mo_fields`), possibly several replies at once.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

from bulksms.domain import one_api, xml_callback
from bulksms.domain.numbers import parse_recipients

UCS2_CHARSETS = frozenset({"UCS2", "UCS-2", "UTF-16BE", "UTF-16", "UNICODE"})
LATIN1_CHARSETS = frozenset({"ISO-8859-1", "ISO8859-1", "LATIN1", "LATIN-1", "WINDOWS-1252", "CP1252"})
CLICKATELL_ZONE = timezone(timedelta(hours=2))  # MO timestamps are given in GMT+2
MAX_TEXT = 2000  # a concatenated reply is far shorter; anything longer is cut, not stored whole
MAX_REPLIES = 100  # replies in one callback: Clickatell sends one, or a few; more is not a callback
_MILLISECONDS = 10**11  # a UNIX time above this is in milliseconds (seconds reach it in the year 5138)
_HEX_UNITS = re.compile(r"^(?:[0-9A-Fa-f]{4})+$")
_FIELDS = ("api_id", "moMsgId", "from", "to", "timestamp", "text", "charset", "udh")


@dataclass(frozen=True, slots=True)
class InboundMessage:
    mo_message_id: str  # Clickatell's moMsgId; "" when it sent none
    sender: str  # the handset, normalised like a recipient when it is a valid number, else as sent
    sender_valid: bool  # only a valid number can be put on the suppression list
    to: str  # our two-way number
    text: str
    charset: str
    udh: str
    api_id: str
    sent_at: str | None  # Clickatell's timestamp in UTC ISO 8601, None if absent or unreadable


def form_fields(query: str, body: bytes) -> dict[str, str]:
    """Form fields of the query string and a form body, read in the Latin-1 a `charset` field may name
    (percent-encoded bytes are UTF-8 otherwise)."""
    text = body.decode("utf-8", "replace")
    encoding = "utf-8"
    charset = next((v for k, v in parse_qsl(f"{query}&{text}") if k.lower() == "charset"), "")
    if charset.strip().upper() in LATIN1_CHARSETS:
        encoding = "latin-1"
    fields: dict[str, str] = {}
    for source in (query, text):
        for name, value in parse_qsl(source, keep_blank_values=True, encoding=encoding, errors="replace"):
            fields.setdefault(name, value)  # a name given twice: the first wins
    return fields


@dataclass(frozen=True, slots=True)
class MoCallback:
    """One MO callback as read: its token, its replies, or why it cannot be read."""

    token: str
    messages: tuple[InboundMessage, ...]  # empty without an error: nothing for us (e.g. WhatsApp)
    error: str | None = None  # what is wrong, naming the field; then nothing is stored


def read_callback(query: str, body: bytes) -> MoCallback:
    """Any MO callback: a JSON object (legacy names or the One API's), an XML `<callback>` (the body, or
    the `data` field), or form fields. The token is the URL's (`?token=`), else a form or JSON field."""
    stripped = body.lstrip()
    fields = form_fields(query, b"" if stripped.startswith((b"{", b"<")) else body)
    token = fields.pop("token", "")
    replies: list[Mapping[str, object]]
    if stripped.startswith(b"{"):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, dict):
            return MoCallback(token, (), "body is not a JSON object")
        token = token or str(document.get("token") or "")
        one_api_replies = one_api.mo_fields(document)
        replies = [{**document, **fields}] if one_api_replies is None else list(one_api_replies)
    else:
        data = body if stripped.startswith(b"<") else fields.pop("data", "")
        try:
            replies = [xml_callback.callback_fields(data)] if data else [fields]
        except xml_callback.MalformedXml as error:
            return MoCallback(token, (), str(error))
    if len(replies) > MAX_REPLIES:
        return MoCallback(token, (), f"more than {MAX_REPLIES} replies in one callback")
    messages = tuple(message for reply in replies if (message := parse_inbound(reply)))
    if replies and not messages:
        return MoCallback(token, (), "from is missing")
    return MoCallback(token, messages)


def decode_text(text: str, charset: str) -> str:
    """The reply's text: hex UCS-2 decoded when the charset says so, else as it came."""
    if charset.strip().upper() in UCS2_CHARSETS and _HEX_UNITS.match(text):
        try:
            return bytes.fromhex(text).decode("utf-16-be", "replace")
        except (ValueError, binascii.Error):
            return text
    return text


def parse_timestamp(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        if value.isdigit():
            seconds = int(value)
            if not seconds:
                return None  # 0: a sender that fills the field without knowing the time
            moment = datetime.fromtimestamp(seconds // 1000 if seconds > _MILLISECONDS else seconds, UTC)
        else:
            moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CLICKATELL_ZONE)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_inbound(fields: Mapping[str, object]) -> InboundMessage | None:
    """An MO callback's fields (names case-insensitive) as a message; None without a sender."""
    lowered = {str(name).lower(): value for name, value in fields.items()}
    value = {name: str(lowered.get(name.lower()) or "").strip() for name in _FIELDS}
    sender = value["from"]
    if not sender:
        return None
    parsed = parse_recipients([sender])
    charset = value["charset"]
    text = decode_text(str(lowered.get("text") or ""), charset)[:MAX_TEXT]
    return InboundMessage(
        mo_message_id=value["moMsgId"][:64],
        sender=parsed.accepted[0] if parsed.accepted else sender[:32],
        sender_valid=bool(parsed.accepted),
        to=value["to"][:32],
        text=text,
        charset=charset[:32],
        udh=value["udh"][:280],
        api_id=value["api_id"][:32],
        sent_at=parse_timestamp(value["timestamp"]),
    )
