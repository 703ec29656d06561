"""Clickatell's One API (`POST /v1/message`, JSON): request, answer, options it lacks, and callbacks.

What this relies on, with its sources, is in docs/one-api.md. In short:
- one message object per number, at most 100 per request (`clickatell-api` 0.3.0 refuses more; the
  reference says 200, we keep to the lower figure);
- `content` is the text itself (UTF-8 JSON): the platform chooses GSM-7 or UCS-2, so there is no
  unicode flag, no binary data, no UDH and no flash type;
- `clientMessageId` comes back in the status callbacks, which carry no `to`: so each message's names
  its job and its number (`recipient_message_id`), in 31 characters, within the legacy `climsgid`'s 32;
- the answer is `{"messages": [{"apiMessageId", "accepted", "to", "error"}], "error"}`; a request-level
  `error` means no message was processed. Anything we cannot account for is `unknown`, never guessed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bulksms.domain.attempts import (
    RETRYABLE_HTTP_STATUSES,
    RecipientResult,
    Verdict,
    ambiguous,
    results_for,
    retry,
)
from bulksms.domain.encoding import is_gsm7
from bulksms.domain.job import Stop
from bulksms.domain.message import FLASH, Encoding, Message
from bulksms.domain.status import RecipientStatus

MAX_MESSAGES_PER_REQUEST = 100
PATH = "/v1/message"
DEFAULT_BASE_URL = "https://platform.clickatell.com"

# Error codes (One API errors table) meaning the account or the integration cannot send: the job stops.
# Every other code fails its numbers only, as the legacy request errors do (domain.attempts): the API
# refuses what it can see early, and one that still comes back fails only its chunk.
ACCOUNT_ERRORS = frozenset({1, 2, 3, 7, 20, 46})
# "Internal error", "Internal error, please retry", "Rate limit": at request level nothing was processed.
RETRYABLE_ERRORS = frozenset({18, 19, 43})
# "Recipient opted out" (a message-level error): the One API's `ERR: 122`. Its status table has no
# status meaning the same, so a delivery report never adds a number (docs/one-api.md).
OPTED_OUT_ERROR = "26"

# One API status codes -> the legacy three-digit code with the same meaning, which is what the report
# path reads. Codes not listed tell nothing we can use and map to 001 ("message unknown": no change).
STATUS_TO_LEGACY: dict[int, str] = {
    1: "001",  # UNKNOWN
    2: "002",  # QUEUED
    3: "011",  # SCHEDULED
    4: "003",  # SENT_TO_SUPPLIER
    5: "004",  # DEVICE_ACK
    6: "004",  # READ
    20: "010",  # EXPIRED
    21: "006",  # STOPPED_BY_USER
    22: "006",  # STOPPED_BY_ADMIN
    23: "007",  # DELIVERY_FAILURE
    25: "012",  # INSUFFICIENT_ACCOUNT_BALANCE
    26: "014",  # VOLUME_LIMIT
    27: "014",  # VOLUME_LIMIT_DAILY
    28: "014",  # VOLUME_LIMIT_MONTHLY
    29: "007",  # RECIPIENT_DOES_NOT_EXIST
    100: "009",  # ROUTING_ERROR
}
UNKNOWN_STATUS = "001"


def text_of(message: Message) -> str:
    """The message as text: the One API takes characters, not our UCS-2 hex."""
    if message.encoding is Encoding.UCS2:
        return bytes.fromhex(message.payload).decode("utf-16-be")
    return message.payload


def refusal(message: Message) -> tuple[str, str] | None:
    """(field, reason) for an option the One API cannot carry; None when it can send the message."""
    if message.encoding is Encoding.BINARY:
        field = "udh" if message.udh else "encoding"
        return field, "the One API sends text only: binary data and udh are not available on this deployment"
    if message.msg_type == FLASH:
        return "msg_type", "the One API has no flash messages: SMS_FLASH is not available on this deployment"
    if message.encoding is Encoding.UCS2 and is_gsm7(text_of(message)):
        return "encoding", (
            "the One API chooses the encoding from the text, and this text fits GSM-7, so it cannot be "
            "forced to UCS-2: use encoding auto"
        )
    if message.validity is not None:
        return "validity_minutes", (
            "the One API's validity period is not supported on this deployment (not verified against its "
            "reference): leave validity_minutes out"
        )
    if message.queue is not None:
        return "priority", "the One API has no priority queues: leave priority out"
    if message.callback not in (0, 3, 7):
        return "callback", (
            "the One API sends every status update its integration is set up for (intermediate and final); "
            "it cannot select some of them per message: use callback 3 or 7, or leave it out"
        )
    return None


def build_request(message: Message, numbers: Sequence[str], client_message_id: str) -> bytes:
    """The one place that turns a message and up to 100 numbers into a One API request body; each
    message's `clientMessageId` names the reference (our job id) and its number."""
    common: dict[str, str] = {"channel": "sms", "content": text_of(message)}
    if message.sender:
        common["from"] = message.sender
    messages = [
        {**common, "to": to, "clientMessageId": recipient_message_id(client_message_id, to)} for to in numbers
    ]
    return json.dumps({"messages": messages}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_JOB_ID = re.compile(r"[0-9a-f]{32}")
_NUMBER = re.compile(r"[1-9][0-9]{0,14}")
_NUMBER_BYTES = 7  # 15 digits are under 2**56
_RECIPIENT_ID_CHARS = 31  # 16 + 7 bytes in unpadded base64url


def recipient_message_id(reference: str, number: str) -> str:
    """One message's `clientMessageId`: the job id (32 hex) and the number (international, digits)
    as 23 bytes in base64url, 31 characters. A One API status update carries it back without the
    number, and a recipient is found by its job and number. Any other reference is sent as it is."""
    if not _JOB_ID.fullmatch(reference) or not _NUMBER.fullmatch(number):
        return reference
    raw = bytes.fromhex(reference) + int(number).to_bytes(_NUMBER_BYTES, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def recipient_of(client_message_id: str) -> tuple[str, str] | None:
    """(job id, number) of a `recipient_message_id`; None for anything else (a plain job id, say)."""
    if len(client_message_id) != _RECIPIENT_ID_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(client_message_id + "=")
    except ValueError:
        return None
    job, number = raw[:16].hex(), str(int.from_bytes(raw[16:], "big"))
    if recipient_message_id(job, number) != client_message_id:
        return None  # not one we made: the round trip gives the same text back
    return job, number


def _code(error: Any) -> int | None:
    if not isinstance(error, Mapping):
        return None
    code = error.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    return None


def _description(error: Mapping[str, Any]) -> str:
    return str(error.get("description") or "").strip()


def judge_answer(numbers: Sequence[str], http_status: int, body: bytes) -> Verdict:
    """Judge one One API answer: per-message results, a request-level error, or an ambiguous answer."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, Mapping):
        reason = f"HTTP {http_status} without a One API answer"
        if http_status in RETRYABLE_HTTP_STATUSES:
            return retry(reason)
        return ambiguous(numbers, reason)
    error = document.get("error")
    if error is not None:
        return _judge_request_error(numbers, http_status, error)
    messages = document.get("messages")
    if not isinstance(messages, list):
        return ambiguous(numbers, f"HTTP {http_status}: a One API answer without messages")
    return _judge_messages(numbers, messages)


def _judge_request_error(numbers: Sequence[str], http_status: int, error: Any) -> Verdict:
    code = _code(error)
    if code is None:
        return ambiguous(numbers, f"HTTP {http_status}: a request-level error we cannot read: {error!r:.200}")
    description = _description(error)
    reason = f"One API error {code}: {description}".rstrip(": ")
    if code in RETRYABLE_ERRORS:
        return retry(reason)  # a request-level error: no message of the request was processed
    stop = Stop.failed(str(code), description) if code in ACCOUNT_ERRORS else None
    return Verdict(False, reason, results_for(numbers, RecipientStatus.FAILED, str(code), description), stop)


def _judge_messages(numbers: Sequence[str], messages: list[Any]) -> Verdict:
    wanted = set(numbers)
    by_number: dict[str, RecipientResult] = {}
    unparsed: list[str] = []
    stop: Stop | None = None
    for entry in messages:
        result = _message_result(entry)
        if result is None or result.to not in wanted or result.to in by_number:
            # Never map by position: an entry we cannot attribute leaves its number unknown.
            unparsed.append(json.dumps(entry, default=str)[:200])
            continue
        by_number[result.to] = result
        if stop is None and result.error_code and int(result.error_code) in ACCOUNT_ERRORS:
            stop = Stop.failed(result.error_code, result.error or "")
    missing = "missing from Clickatell's answer; it may have been accepted, so it is not resent"
    results = tuple(
        by_number.get(to) or RecipientResult(to, RecipientStatus.UNKNOWN, error=missing) for to in numbers
    )
    return Verdict(False, "answered", results, stop, unparsed=tuple(unparsed))


def _message_result(entry: Any) -> RecipientResult | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("to"), str):
        return None
    to = entry["to"].strip().removeprefix("+")
    accepted = entry.get("accepted")
    api_message_id = entry.get("apiMessageId")
    if accepted is True and isinstance(api_message_id, str) and api_message_id:
        return RecipientResult(to, RecipientStatus.SUBMITTED, api_message_id)
    code = _code(entry.get("error"))
    if accepted is False and code is not None:
        return RecipientResult(
            to, RecipientStatus.FAILED, error_code=str(code), error=_description(entry["error"])
        )
    return None  # accepted without an id, or refused without a readable error: we cannot say


# A status callback carries at most this many updates: Clickatell sends one today ("for now batch sizes
# are always 1") and may batch later; more than a send request's 100 numbers is not a callback of ours.
MAX_STATUS_UPDATES = 100


class BadStatusCallback(ValueError):
    """A One API status callback (`event.messageStatusUpdate`) we cannot read; the text says why."""


def report_fields(callback: Any) -> dict[str, str] | None:
    """A flat status callback -> the legacy report fields the delivery path reads; None when it is not
    one (no `messageId` or no `to`: a legacy report, or nothing we can read).

    The flat shape is the earlier platform's *REST API: Status callback* (R4 in docs/one-api.md:
    `messageId`, `clientMessageId`, `to`, `statusCode`, `status`, `timestamp` in milliseconds). The One
    API itself wraps its updates in `event.messageStatusUpdate` (see `status_updates`).
    """
    if not isinstance(callback, Mapping):
        return None
    message_id, to = callback.get("messageId"), callback.get("to")
    if not isinstance(message_id, str) or not message_id or not isinstance(to, str | int):
        return None
    return _update_fields(callback)


def status_updates(callback: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """A One API status callback -> the legacy report fields of each of its updates, in order; None when
    the document is not one (a flat or legacy JSON report). Raises BadStatusCallback naming the reason.

    The shape (docs/one-api.md, R6): `{"integrationId", "integrationName", "event":
    {"messageStatusUpdate": [{"channel", "timestamp" (milliseconds), "statusCode", "status", "messageId",
    "clientMessageId"}, ...]}}`. Clickatell's examples carry no `to`: the number (and the job id) come
    from our `clientMessageId` (`recipient_of`); an update with a `to` is read with it.
    """
    event = callback.get("event")
    if not isinstance(event, Mapping) or "messageStatusUpdate" not in event:
        return None
    updates = event["messageStatusUpdate"]
    if not isinstance(updates, list) or not updates:
        raise BadStatusCallback("event.messageStatusUpdate is not a list of status updates")
    if len(updates) > MAX_STATUS_UPDATES:
        raise BadStatusCallback(
            f"event.messageStatusUpdate holds {len(updates)} updates, more than {MAX_STATUS_UPDATES}"
        )
    return [_update_fields(update) if isinstance(update, Mapping) else {} for update in updates]


def _update_fields(update: Mapping[str, Any]) -> dict[str, str]:
    message_id = update.get("messageId")
    code = _code({"code": update.get("statusCode")})
    reference = str(update.get("clientMessageId") or "")
    recipient = recipient_of(reference)
    fields = {
        "apiMsgId": message_id if isinstance(message_id, str) else "",
        "cliMsgId": recipient[0] if recipient else reference,
        "status": STATUS_TO_LEGACY.get(code, UNKNOWN_STATUS) if code is not None else UNKNOWN_STATUS,
    }
    to = update.get("to")
    if isinstance(to, str | int) and not isinstance(to, bool):
        fields["to"] = str(to).strip().removeprefix("+")
    elif recipient:
        fields["to"] = recipient[1]
    timestamp = update.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool) and timestamp > 0:
        fields["timestamp"] = str(int(timestamp) // 1000)  # milliseconds; legacy reports carry seconds
    return fields


def mo_fields(callback: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """A One API MO (reply) callback -> the legacy MO fields the inbound path reads, one mapping per SMS
    reply; None when the document is not one (a legacy JSON MO callback).

    Two shapes (docs/one-api.md, "Replies"):
    - the One API's *receive message callback*: `{"integrationId", "integrationName", "event":
      {"moText": [{"channel", "messageId", "relatedMessageId", "relatedClientMessageId", "from", "to",
      "timestamp" (milliseconds), "content", "charset"}]}}`, several replies at once possible. Replies
      of another channel (WhatsApp) and media replies (`moMedia`) are not SMS and are left out;
    - the earlier platform's flat *reply callback*: `integrationId, messageId, replyMessageId, apiKey,
      fromNumber, toNumber, timestamp, text, charset, udh, network, keyword`.
    """
    event = callback.get("event")
    if isinstance(event, Mapping):
        texts = event.get("moText")
        replies = texts if isinstance(texts, list) else []
        integration = str(callback.get("integrationId") or "")
        return [
            _mo_text_fields(reply, integration)
            for reply in replies
            if isinstance(reply, Mapping) and str(reply.get("channel") or "sms").strip().lower() == "sms"
        ]
    if "fromNumber" in callback:
        names = {
            "integrationId": "api_id",
            "messageId": "moMsgId",
            "fromNumber": "from",
            "toNumber": "to",
            "timestamp": "timestamp",
            "text": "text",
            "charset": "charset",
            "udh": "udh",
        }
        return [{ours: _scalar(callback.get(theirs)) for theirs, ours in names.items()}]
    return None


def _mo_text_fields(reply: Mapping[str, Any], integration: str) -> dict[str, str]:
    return {
        "api_id": integration,
        "moMsgId": _scalar(reply.get("messageId")),
        "from": _scalar(reply.get("from")),
        "to": _scalar(reply.get("to")),
        "timestamp": _scalar(reply.get("timestamp")),
        "text": _scalar(reply.get("content")),
        "charset": _scalar(reply.get("charset")),
        "udh": "",
    }


def _scalar(value: Any) -> str:
    """A field's value as text; "" for null, objects, lists and booleans (nothing we can store)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return ""
