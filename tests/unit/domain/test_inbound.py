from __future__ import annotations

from urllib.parse import urlencode

import pytest
from bulksms.domain.inbound import callback_fields, decode_text, form_fields, parse_inbound, parse_timestamp

FIELDS = {
    "api_id": "3456789",
    "moMsgId": "b2aee337abd962489b123fda9c3480fa",
    "from": "+27 82 100 0009",
    "to": "27999000000",
    "timestamp": "2026-12-01 10:30:00",
    "text": "Hello",
    "charset": "ISO-8859-1",
    "udh": "",
}


def test_legacy_fields_become_a_message_with_a_normalised_sender() -> None:
    message = parse_inbound(FIELDS)
    assert message is not None
    assert (message.sender, message.sender_valid, message.to) == ("27821000009", True, "27999000000")
    assert (message.mo_message_id, message.text, message.sent_at) == (
        FIELDS["moMsgId"],
        "Hello",
        "2026-12-01T08:30:00Z",
    )


def test_field_names_are_case_insensitive_and_a_short_code_sender_is_kept_as_sent() -> None:
    message = parse_inbound({"FROM": "40404", "MOMSGID": "x", "Text": "STOP"})
    assert message is not None
    assert (message.sender, message.sender_valid, message.mo_message_id) == ("40404", False, "x")
    assert parse_inbound({"text": "no sender"}) is None


@pytest.mark.parametrize(
    ("text", "charset", "expected"),
    [
        ("041F04400438043204350442", "UCS-2", "Привет"),
        ("D83DDE4F0053", "utf-16be", "🙏S"),
        ("0053", "UCS2", "S"),
        ("ABC", "UCS-2", "ABC"),  # not whole code units: kept as sent
        ("041F", "ISO-8859-1", "041F"),  # hex-looking text in another charset is text
    ],
)
def test_ucs2_hex_is_decoded_only_when_the_charset_says_so(text: str, charset: str, expected: str) -> None:
    assert decode_text(text, charset) == expected


def test_timestamps_gmt_plus_two_or_unix_seconds() -> None:
    assert parse_timestamp("2026-01-01 01:00:00") == "2025-12-31T23:00:00Z"
    assert parse_timestamp("1796173184") == "2026-12-02T00:59:44Z"
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("") is None


def test_form_bodies_in_latin1_and_utf8_and_json_bodies() -> None:
    latin = urlencode({**FIELDS, "text": "déjà"}, encoding="latin-1")
    assert form_fields("token=t", latin.encode())["text"] == "déjà"
    assert form_fields(latin, b"")["text"] == "déjà"  # a GET callback
    utf8 = urlencode({**FIELDS, "charset": "UTF-8", "text": "déjà"}).encode()
    assert form_fields("", utf8)["text"] == "déjà"
    fields = callback_fields("token=t", b'{"from": "27821000009", "text": "STOP", "token": "body"}')
    assert fields == {"from": "27821000009", "text": "STOP", "token": "t"}  # the URL's token wins
    assert parse_inbound(callback_fields("", b"[1, 2]") or {}) is None  # read as a form: no sender
    assert callback_fields("", b"{broken") is None
    assert callback_fields("a=1&a=2", b"") == {"a": "1"}
