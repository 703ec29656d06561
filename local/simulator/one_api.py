"""The One API side of the simulator: `POST /v1/message` answers and the JSON status callbacks.

Numbers go through the simulator's one per-number loop (`ClickatellSimulator._accept`), so the One API
has the same per-number faults, credit, duplicate detection and delivery callbacks as `sendmsg`; this
module only reads the JSON request and writes the One API's answer. The codes follow Clickatell's One
API errors and status tables (docs/one-api.md), written out here independently of the product's
mapping so that the simulator checks it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local.simulator.model import Message
from local.simulator.options import Faults, Settings
from local.simulator.rules import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MessageSpec,
    count_parts,
    gsm7_septets,
    is_valid_number,
)

if TYPE_CHECKING:
    from local.simulator.server import ClickatellSimulator

PATH = "/v1/message"
_SENDER = re.compile(r"[0-9]{1,16}|[A-Za-z0-9]{1,11}")
MAX_MESSAGES = 100
MAX_PARTS = 10

ERRORS: dict[int, tuple[int, str]] = {  # code -> (HTTP status when it is the only one, description)
    1: (401, "Invalid or missing integration API Key"),
    20: (402, "Insufficient account balance"),
    21: (400, "Payload data is malformed"),
    22: (400, "Maximum messages per request payload exceeded"),
    23: (400, "Invalid or missing parameter"),
    25: (400, "Invalid recipient address"),
    26: (400, "Recipient opted out"),
    27: (400, "Recipient not available on channel"),
    39: (400, "Channel is not available on integration"),
    100: (400, "Maximum message parts exceeded"),
}
# The shared per-number loop speaks legacy ERR codes; their One API equivalents.
FROM_LEGACY_ERROR = {"105": 25, "114": 27, "121": 26, "122": 26, "128": 27, "301": 20}
# Legacy status codes (the simulator's callback_status_mix) -> One API status code and name.
FROM_LEGACY_STATUS: dict[str, tuple[int, str]] = {
    "001": (1, "UNKNOWN"),
    "002": (2, "QUEUED"),
    "003": (4, "SENT_TO_SUPPLIER"),
    "004": (5, "DEVICE_ACK"),
    "005": (23, "DELIVERY_FAILURE"),
    "006": (22, "STOPPED_BY_ADMIN"),
    "007": (23, "DELIVERY_FAILURE"),
    "008": (4, "SENT_TO_SUPPLIER"),
    "009": (100, "ROUTING_ERROR"),
    "010": (20, "EXPIRED"),
    "011": (3, "SCHEDULED"),
    "012": (25, "INSUFFICIENT_ACCOUNT_BALANCE"),
    "014": (26, "VOLUME_LIMIT"),
}


@dataclass(frozen=True, slots=True)
class OneRequest:
    """A `POST /v1/message` body as read: its message objects, or why it could not be read."""

    messages: list[Any] = field(default_factory=list)
    malformed: str | None = None

    @property
    def numbers(self) -> list[str]:
        return [str(m.get("to", "")) for m in self.messages if isinstance(m, dict)]

    @property
    def logged(self) -> dict[str, Any]:
        first = next((m for m in self.messages if isinstance(m, dict)), {})
        return {k: first[k] for k in ("clientMessageId", "from", "content", "channel") if k in first}


def read_request(body: bytes) -> OneRequest:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return OneRequest(malformed="not JSON")
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages:
        return OneRequest(malformed="no messages")
    return OneRequest(messages)


def _error(code: int, detail: str = "") -> dict[str, Any]:
    description = ERRORS[code][1] + (f": {detail}" if detail else "")
    return {"code": code, "description": description}


def _request_error(code: int, detail: str = "") -> tuple[int, bytes]:
    return ERRORS[code][0], json.dumps({"messages": [], "error": _error(code, detail)}).encode()


def _parts(content: str) -> int:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in content):
        return count_parts(gsm7_septets(content), 160, 153)
    return count_parts(len(content.encode("utf-16-be")) // 2, 70, 67)


def _check(message: Any) -> tuple[int, str] | None:
    """A message-level error as (code, detail), or None when the message can be sent."""
    if not isinstance(message, dict):
        return 23, "message"
    if message.get("channel", "sms") != "sms":
        return 39, str(message.get("channel"))
    to = message.get("to")
    if not isinstance(to, str) or not is_valid_number(to):
        return 25, str(to)
    content = message.get("content")
    if not isinstance(content, str) or not content:
        return 23, "content"
    sender = message.get("from", "")
    if not isinstance(sender, str) or (sender and not _SENDER.fullmatch(sender)):
        return 23, "from"
    if _parts(content) > MAX_PARTS:
        return 100, ""
    return None


def answer(
    sim: ClickatellSimulator, request: OneRequest, api_key: str, faults: Faults, settings: Settings
) -> tuple[int, bytes]:
    """Process one request like the One API: (HTTP status, JSON answer)."""
    if faults.auth_fail or api_key != sim.api_key:
        return _request_error(1)
    if request.malformed:
        return _request_error(21, request.malformed)
    limit = settings.max_recipients or MAX_MESSAGES
    if len(request.messages) > limit:
        return _request_error(22, f"{len(request.messages)} > {limit}")
    entries: list[dict[str, Any]] = [{} for _ in request.messages]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for index, message in enumerate(request.messages):
        refused = _check(message)
        if refused or faults.no_credit:
            code, detail = refused or (20, "")
            entries[index] = {
                "accepted": False,
                "to": str(message.get("to", "")) if isinstance(message, dict) else "",
                "error": _error(code, detail),
            }
            continue
        key = (message["content"], message.get("from", ""), str(message.get("clientMessageId", "")))
        groups.setdefault(key, []).append(index)
    for (content, sender, cli_msg_id), indexes in groups.items():
        spec = MessageSpec(
            text_key=hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest(),
            parts=_parts(content),
            sender=sender,
            callback_level=settings.one_api_callback_level,
            cli_msg_id=cli_msg_id,
        )
        numbers = [request.messages[i]["to"] for i in indexes]
        records, jobs, _ = sim._accept(numbers, [True] * len(numbers), spec, faults, settings)
        for job in jobs:
            job.shape = "one"
        if jobs:
            sim._callbacks.schedule(jobs, settings.callback_delay_ms / 1000.0)
        for index, record in zip(indexes, records, strict=True):
            if record.key == "ID":
                entries[index] = {
                    "apiMessageId": record.value,
                    "accepted": True,
                    "to": record.to,
                    "error": None,
                }
            else:
                code = FROM_LEGACY_ERROR[record.value]
                entries[index] = {"accepted": False, "to": record.to, "error": _error(code)}
    refused_codes = [entry["error"]["code"] for entry in entries if not entry["accepted"]]
    if not refused_codes:
        status = 202
    elif len(refused_codes) < len(entries):
        status = 207  # some accepted, some not: the message-level answers must be read
    else:
        status = ERRORS[refused_codes[0]][0]
    return status, json.dumps({"messages": entries, "error": None}).encode()


def callback_body(message: Message, legacy_status: str, shape: str = "flat") -> bytes:
    """A status callback in one of the One API's JSON shapes (Clickatell's documented fields): "flat"
    (the REST API status callback) or "event" (`event.messageStatusUpdate`, one update, no `to`)."""
    code, name = FROM_LEGACY_STATUS.get(legacy_status, (1, "UNKNOWN"))
    timestamp = int(time.time() * 1000)
    if shape == "event":
        update = {
            "channel": "sms",
            "timestamp": timestamp,
            "statusCode": code,
            "status": name,
            "messageId": message.api_msg_id,
            "clientMessageId": message.cli_msg_id,
        }
        document: dict[str, Any] = {
            "integrationId": "bulksms-simulator",
            "integrationName": "bulksms-simulator",
            "event": {"messageStatusUpdate": [update]},
        }
        return json.dumps(document).encode()
    return json.dumps(
        {
            "integrationName": "bulksms-simulator",
            "messageId": message.api_msg_id,
            "requestId": message.api_msg_id[:16],
            "clientMessageId": message.cli_msg_id,
            "to": message.to,
            "from": message.sender,
            "statusCode": code,
            "status": name,
            "statusDescription": name.replace("_", " ").capitalize(),
            "timestamp": timestamp,
        }
    ).encode()
