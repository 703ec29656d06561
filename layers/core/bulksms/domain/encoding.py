"""Message text: choose the SMS encoding, count parts, and build Clickatell's `text`/`data`/`udh`.

- GSM-7: 160 septets in one SMS, 153 per part when concatenated; extension characters (€ [ ] { } ...)
  are sent as ESC + character and cost 2 septets; an escape pair is never split across parts.
- UCS-2 (`unicode=1`): `text` is UTF-16BE as hex, 4 hex digits per code unit. 70 units in one SMS, 67
  per part; characters outside the BMP (emoji) take 2 units and a surrogate pair is never split.
- Binary: `data` (and optional `udh`) as hex, at most 140 bytes together, always one part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import gsm0338  # noqa: F401  (importing it registers the "gsm03.38" codec)

from bulksms.domain.message import Encoding

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67
BINARY_MAX_BYTES = 140

_ESC = "\x1b"
_HEX = re.compile(r"[0-9A-Fa-f]*")


AUTO = "auto"
CHOICES = (AUTO, Encoding.GSM7.value, Encoding.UCS2.value, Encoding.BINARY.value)


class TextError(ValueError):
    """A client error in the message; `field` names the request field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class EncodedText:
    encoding: Encoding
    parts: int  # SMS parts per recipient
    units: int  # septets (GSM-7), UTF-16 code units (UCS-2) or data bytes without the udh (binary)
    payload: str  # GSM-7: the text; UCS-2: uppercase UTF-16BE hex; binary: uppercase data hex
    udh: str | None  # binary only: uppercase hex


def _gsm7_alphabet() -> tuple[frozenset[str], frozenset[str]]:
    """The basic and extension characters, taken from what the gsm0338 codec decodes.

    Starting from the decode side means a character is only ever sent as GSM-7 if the handset shows
    that same character. Each one is also checked to encode back to the same septets; this drops ESC
    (U+001B), which the codec would encode as a bare 0x1B that decodes to nothing, or to € when an "e"
    follows. The codec maps nothing else lossily (ç, á, curly quotes, NBSP are simply not encodable).
    """
    basic: set[str] = set()
    extension: set[str] = set()
    for code in range(128):
        for septets, bucket in ((bytes([code]), basic), (bytes([0x1B, code]), extension)):
            try:
                char = septets.decode("gsm03.38")
            except UnicodeDecodeError:
                continue
            if char.encode("gsm03.38") == septets:
                bucket.add(char)
    return frozenset(basic), frozenset(extension)


GSM7_BASIC, GSM7_EXTENSION = _gsm7_alphabet()
GSM7_ALPHABET = GSM7_BASIC | GSM7_EXTENSION
# Rewrites text into its septet shape: an extension character becomes ESC + filler, everything else
# stays one character. Its length is the septet count and an ESC marks the first half of a pair.
_SEPTET_SHAPE = str.maketrans({char: _ESC + "\x00" for char in GSM7_EXTENSION})


def is_gsm7(text: str) -> bool:
    return GSM7_ALPHABET.issuperset(text)


def encode_text(
    text: str, encoding: str = AUTO, *, udh: str | None = None, max_parts: int = 3
) -> EncodedText:
    """Validate and encode `text` for `sendmsg`; raise TextError with a message fit for the client."""
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    if encoding not in CHOICES:
        raise TextError("encoding", "must be one of auto, gsm7, ucs2, binary")
    if udh is not None and encoding != Encoding.BINARY:
        raise TextError("udh", "udh is only allowed with encoding binary")
    if not text:
        raise TextError("text", "text is empty")
    if encoding == Encoding.BINARY:
        return _binary(text, udh)
    if encoding != Encoding.UCS2:
        if is_gsm7(text):
            return _gsm7(text, max_parts)
        if encoding == Encoding.GSM7:
            position, char = _first_non_gsm7(text)
            raise TextError(
                "text",
                f"character {char!r} ({_codepoint(char)}) at position {position} is not in the GSM-7 "
                "alphabet; use encoding ucs2 or auto",
            )
    return _ucs2(text, max_parts, auto=encoding == AUTO)


def _gsm7(text: str, max_parts: int) -> EncodedText:
    shape = text.translate(_SEPTET_SHAPE)
    septets = len(shape)
    parts = 1 if septets <= GSM7_SINGLE else _pack(septets, GSM7_PART, lambda end: shape[end - 1] == _ESC)
    if parts > max_parts:
        raise TextError(
            "text",
            f"text needs {parts} parts ({septets} GSM-7 septets; € [ ] {{ }} \\ ^ ~ | count 2); the limit "
            f"is {max_parts} parts, about {_capacity(max_parts, GSM7_SINGLE, GSM7_PART)} septets: "
            "shorten the text",
        )
    return EncodedText(Encoding.GSM7, parts, septets, text, None)


def _ucs2(text: str, max_parts: int, *, auto: bool) -> EncodedText:
    try:
        utf16 = text.encode("utf-16-be")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. half an emoji from a bad JSON escape
        raise TextError(
            "text",
            f"text has an unpaired surrogate ({_codepoint(text[exc.start])}) at position {exc.start + 1}",
        ) from None
    units = len(utf16) // 2
    parts = (
        1
        if units <= UCS2_SINGLE
        # Cutting after a high surrogate would split a character; move the cut before it.
        else _pack(units, UCS2_PART, lambda end: 0xD8 <= utf16[2 * end - 2] <= 0xDB)
    )
    if parts > max_parts:
        hint = "shorten the text"
        if auto:
            # Often one stray character (a curly quote, an emoji) is what forced UCS-2.
            position, char = _first_non_gsm7(text)
            hint += (
                f", or replace characters outside the GSM-7 alphabet (the first is {char!r} at position "
                f"{position}) so it can be sent as GSM-7"
            )
        raise TextError(
            "text",
            f"text needs {parts} parts ({units} UCS-2 characters; emoji count 2); the limit is {max_parts} "
            f"parts, about {_capacity(max_parts, UCS2_SINGLE, UCS2_PART)} characters: {hint}",
        )
    return EncodedText(Encoding.UCS2, parts, units, utf16.hex().upper(), None)


def _binary(text: str, udh: str | None) -> EncodedText:
    if not _is_hex(text):
        raise TextError(
            "text", "binary text must be hex: digits 0-9 and A-F, an even number of them, no spaces"
        )
    header = ""
    if udh is not None:
        # The first UDH byte (UDHL) counts the bytes after it; a mismatch corrupts the message.
        if not udh or not _is_hex(udh) or int(udh[:2], 16) != len(udh) // 2 - 1:
            raise TextError(
                "udh",
                "udh must be hex with an even number of digits, and its first byte must be the number of "
                "bytes that follow it (e.g. 0605040B8423F0)",
            )
        header = udh.upper()
    data_bytes = len(text) // 2
    total = data_bytes + len(header) // 2
    if total > BINARY_MAX_BYTES:
        raise TextError(
            "text",
            f"binary message is {total} bytes (udh {len(header) // 2} + data {data_bytes}), which exceeds "
            f"{BINARY_MAX_BYTES} bytes; binary messages are sent as one part, so shorten the data",
        )
    return EncodedText(Encoding.BINARY, 1, data_bytes, text.upper(), header or None)


def _pack(length: int, size: int, splits_pair: Callable[[int], bool]) -> int:
    """Parts when `length` units are packed greedily into parts of `size`, never cutting where
    `splits_pair(end)` says a two-unit character would be split. O(parts), not O(length)."""
    parts = 0
    start = 0
    while start < length:
        end = start + size
        if end < length and splits_pair(end):
            end -= 1
        parts += 1
        start = end
    return parts


def _capacity(max_parts: int, single: int, part: int) -> int:
    return single if max_parts == 1 else max_parts * part


def _first_non_gsm7(text: str) -> tuple[int, str]:
    """1-based position (in characters) and the first character outside the GSM-7 alphabet."""
    for index, char in enumerate(text):
        if char not in GSM7_ALPHABET:
            return index + 1, char
    raise AssertionError("text is GSM-7")  # callers only ask after is_gsm7() said no


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _is_hex(value: str) -> bool:
    return len(value) % 2 == 0 and _HEX.fullmatch(value) is not None
