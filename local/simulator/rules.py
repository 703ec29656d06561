"""`sendmsg` request rules: message validation and part counting, like Clickatell applies them.

The GSM-7 table lives here on purpose instead of importing the product's encoder: the simulator must
be an independent check of it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from local.simulator.answers import Record

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

MSG_TYPES = frozenset(
    {
        "SMS_TEXT",
        "SMS_FLASH",
        "SMS_NOKIA_OLOGO",
        "SMS_NOKIA_GLOGO",
        "SMS_NOKIA_PICTURE",
        "SMS_NOKIA_RINGTONE",
        "SMS_NOKIA_RTTL",
        "SMS_NOKIA_CLEAN",
        "SMS_NOKIA_VCARD",
        "SMS_NOKIA_VCAL",
    }
)

ERRORS: dict[str, str] = {
    "001": "Authentication failed",
    "003": "Session ID expired",
    "101": "Invalid or missing parameters",
    "102": "Invalid user data header",
    "103": "Unknown API message ID",
    "104": "Unknown client message ID",
    "105": "Invalid destination address",
    "106": "Invalid source address",
    "107": "Empty message",
    "108": "Invalid or missing API ID",
    "109": "Missing message ID",
    "112": "Invalid message type",
    "113": "Maximum message parts exceeded",
    "114": "Cannot route message",
    "116": "Invalid Unicode data",
    "121": "Destination mobile number blocked",
    "122": "Destination mobile opted out",
    "128": "Number delisted",
    "301": "No credit left",
}
PER_NUMBER_FAULT_CODES: tuple[str, ...] = ("105", "114", "121", "122", "128")
# Reference section 1: the values max_credits takes, and the req_feat bits.
MAX_CREDITS = frozenset({"0.8", "1", "1.5", "2", "2.5", "3"})
REQ_FEAT_BITS = 1 | 2 | 4 | 8 | 16 | 32 | 512 | 8192 | 16384
ROUTING_ERROR_STATUS = "009"  # over max_credits: accepted with an ID, then ends as a routing error
_FLAGS = ("mo", "binary", "deliv_ack", "escalate")

_HEX = re.compile(r"[0-9A-Fa-f]*")
_SENDER = re.compile(r"[0-9]{1,16}|[A-Za-z0-9]{1,11}")
_NUMERIC_SENDER = re.compile(r"[0-9]{1,16}")
_CLIMSGID = re.compile(r"[A-Za-z0-9]{1,32}")
_INT = re.compile(r"[0-9]{1,9}")
is_valid_number = re.compile(r"[1-9][0-9]{7,14}").fullmatch


def err(code: str, to: str | None = None) -> Record:
    return Record.error(code, ERRORS[code], to)


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """What a valid request sends to each of its numbers."""

    text_key: str  # identifies the content, for duplicate detection
    parts: int
    sender: str  # "" when `from` was not given
    callback_level: int
    cli_msg_id: str
    over_max_credits: bool = False


def gsm7_septets(text: str) -> int:
    """Septets `text` takes in GSM-7; characters outside the alphabet count 1 (Clickatell substitutes)."""
    return len(text) + sum(1 for ch in text if ch in GSM7_EXTENSION)


def count_parts(septets_or_units: int, single: int, per_part: int) -> int:
    if septets_or_units <= single:
        return 1
    return -(-septets_or_units // per_part)


def _is_hex(value: str, multiple: int = 2) -> bool:
    return _HEX.fullmatch(value) is not None and len(value) % multiple == 0


def check_message(p: Mapping[str, str]) -> MessageSpec | Record:
    """Validate the message parameters in Clickatell's order; return the spec or the request-level ERR."""
    text, data = p.get("text", ""), p.get("data", "")
    if bool(text) == bool(data):
        return err("107")
    unicode = p.get("unicode") or "0"
    if unicode not in ("0", "1"):
        return err("101")
    if unicode == "1" and text:
        if not _is_hex(text, 4):
            return err("116")
        try:
            bytes.fromhex(text).decode("utf-16-be")
        except UnicodeDecodeError:
            return err("116")
    udh = p.get("udh", "")
    if udh and not _is_hex(udh):
        return err("102")
    msg_type = p.get("msg_type", "")
    if udh and msg_type:
        return err("101")
    if data and not _is_hex(data):
        return err("101")
    if msg_type and msg_type not in MSG_TYPES:
        return err("112")
    if any((p.get(flag) or "0") not in ("0", "1") for flag in _FLAGS):
        return err("101")
    sender = p.get("from", "")
    if sender and not _SENDER.fullmatch(sender):
        return err("106")
    if p.get("mo") == "1" and sender and not _NUMERIC_SENDER.fullmatch(sender):
        # A reply-capable route sends from a two-way number; a name cannot take replies.
        return err("106")
    binary = p.get("binary") or "0"
    req_feat = p.get("req_feat", "")
    if req_feat and (not _INT.fullmatch(req_feat) or int(req_feat) & ~REQ_FEAT_BITS):
        return err("101")
    max_credits = p.get("max_credits", "")
    if max_credits and max_credits not in MAX_CREDITS:
        return err("101")
    callback = p.get("callback") or p.get("msg_callback") or "0"
    if not _INT.fullmatch(callback) or int(callback) > 7:
        return err("101")
    cli_msg_id = p.get("climsgid") or p.get("cliMsgId") or ""
    if cli_msg_id and not _CLIMSGID.fullmatch(cli_msg_id):
        return err("101")
    concat = p.get("concat") or "1"
    if not _INT.fullmatch(concat) or int(concat) < 1:
        return err("101")

    if data or udh or binary == "1":
        # 8-bit: the payload is hex (data, or text) and shares 140 bytes with the UDH; no concatenation.
        payload = data or text
        if not _is_hex(payload):
            return err("101")
        if (len(payload) + len(udh)) // 2 > 140:
            return err("113")
        parts = 1
    elif unicode == "1":
        parts = count_parts(len(text) // 4, 70, 67)
    else:
        parts = count_parts(gsm7_septets(text), 160, 153)
    if parts > int(concat):
        return err("113")

    key = "\x00".join((text, data, udh, unicode, msg_type or "SMS_TEXT")).encode("utf-8", "surrogatepass")
    return MessageSpec(
        text_key=hashlib.blake2b(key, digest_size=8).hexdigest(),
        parts=parts,
        sender=sender,
        callback_level=int(callback),
        cli_msg_id=cli_msg_id,
        # A part costs one credit here, as the simulator's credit counts it.
        over_max_credits=bool(max_credits) and parts > float(max_credits),
    )
