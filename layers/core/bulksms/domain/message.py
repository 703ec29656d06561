"""The message every recipient of a job gets, and the `sendmsg` form that carries it.

The message names its encoding; choosing one for a text and counting its parts is domain.encoding's
work, which only submitting and sending need, so reading a job does not load the GSM-7 alphabet."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FLASH = "SMS_FLASH"
TEXT = "SMS_TEXT"
# Reference section 1: `from` is a number of 1-16 digits or a name of up to 11 letters and digits.
# Clickatell refuses anything else for the whole request (ERR 106), so the API refuses it first.
SENDER_ID_PATTERN = r"^([0-9]{1,16}|[A-Za-z0-9]{1,11})$"
_SENDER_ID = re.compile(SENDER_ID_PATTERN)
_NUMBER = re.compile(r"[0-9]{1,16}")
# Callback levels that include final statuses (API doc section 5): ask for a handset receipt too.
_FINAL_STATUS_LEVELS = frozenset({2, 3, 6, 7})


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class ProviderRules:
    """What a Clickatell API accepts for the optional delivery settings, checked before a job is made."""

    max_validity_minutes: int
    priorities: range | None  # None: the API has no priority queues


# The legacy HTTP API (reference section 1): `validity` 1-1440 minutes, `queue` 1 (highest) to 3.
# The One API (issue 10) adds its own rules and maps `validity`/`queue` onto its request there.
LEGACY_HTTP_RULES = ProviderRules(max_validity_minutes=1440, priorities=range(1, 4))


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    api_id: str


@dataclass(frozen=True, slots=True)
class Message:
    encoding: Encoding
    payload: str  # GSM-7 text, UCS-2 hex, or binary hex data
    parts: int
    udh: str | None = None
    sender: str | None = None
    mo: bool = False
    callback: int = 0
    msg_type: str = TEXT
    validity: int | None = None  # minutes Clickatell keeps trying; None: the account's default
    queue: int | None = None  # Clickatell priority queue, 1 (highest) to 3; None: the default (3)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "encoding": self.encoding.value,
            "payload": self.payload,
            "parts": self.parts,
            "mo": self.mo,
            "callback": self.callback,
            "msg_type": self.msg_type,
        }
        if self.udh:
            item["udh"] = self.udh
        if self.sender:
            item["sender"] = self.sender
        if self.validity is not None:
            item["validity"] = self.validity
        if self.queue is not None:
            item["queue"] = self.queue
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Message:
        return cls(
            encoding=Encoding(item["encoding"]),
            payload=item["payload"],
            parts=int(item["parts"]),
            udh=item.get("udh"),
            sender=item.get("sender"),
            mo=bool(item.get("mo", False)),
            callback=int(item.get("callback", 0)),
            msg_type=item.get("msg_type", TEXT),
            validity=int(item["validity"]) if "validity" in item else None,
            queue=int(item["queue"]) if "queue" in item else None,
        )


def sender_problem(sender: str | None, mo: bool) -> tuple[str, str] | None:
    """The field at fault and why, when `from` and `mo` are not a pair Clickatell accepts; else None."""
    if sender is not None and not _SENDER_ID.fullmatch(sender):
        return "from", (
            f"{sender!r} is not a sender ID: up to 16 digits, or up to 11 letters and digits "
            "(no spaces or punctuation)"
        )
    if mo and sender is None:
        return "from", "mo needs from: the two-way number to send from"
    if mo and sender is not None and not _NUMBER.fullmatch(sender):
        # A reply-capable route sends from a number the replies can come back to (section 1, `mo`).
        return "from", f"with mo, from must be your two-way number in digits, not {sender!r}"
    return None


def build_sendmsg_form(
    message: Message, numbers: Sequence[str], credentials: Credentials, client_message_id: str
) -> dict[str, str]:
    """The one place that turns a message and up to a chunk of numbers into `sendmsg` parameters."""
    form = {
        "api_id": credentials.api_id,
        "user": credentials.user,
        "password": credentials.password,
        "to": ",".join(numbers),
        "climsgid": client_message_id,
    }
    if message.encoding is Encoding.BINARY:
        form["data"] = message.payload
        if message.udh:
            form["udh"] = message.udh
        else:
            form["binary"] = "1"
    else:
        form["text"] = message.payload
        if message.encoding is Encoding.UCS2:
            form["unicode"] = "1"
        if message.parts > 1:
            form["concat"] = str(message.parts)
    if message.msg_type != TEXT:
        form["msg_type"] = message.msg_type
    if message.sender:
        form["from"] = message.sender
    if message.mo:
        form["mo"] = "1"
    if message.callback:
        form["callback"] = str(message.callback)
        if message.callback in _FINAL_STATUS_LEVELS:
            form["deliv_ack"] = "1"
    if message.validity is not None:
        form["validity"] = str(message.validity)
    if message.queue is not None:
        form["queue"] = str(message.queue)
    return form
