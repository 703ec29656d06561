from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from bulksms.domain.inbound import (
    MAX_REPLIES,
    decode_text,
    form_fields,
    parse_inbound,
    parse_timestamp,
    read_callback,
)

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


def test_timestamps_gmt_plus_two_or_unix_seconds_or_milliseconds() -> None:
    assert parse_timestamp("2026-01-01 01:00:00") == "2025-12-31T23:00:00Z"
    assert parse_timestamp("1796173184") == "2026-12-02T00:59:44Z"
    assert parse_timestamp("1796173184999") == "2026-12-02T00:59:44Z"
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("") is None


def test_form_bodies_in_latin1_and_utf8_and_json_bodies() -> None:
    latin = urlencode({**FIELDS, "text": "déjà"}, encoding="latin-1")
    assert form_fields("token=t", latin.encode())["text"] == "déjà"
    assert form_fields(latin, b"")["text"] == "déjà"  # a GET callback
    utf8 = urlencode({**FIELDS, "charset": "UTF-8", "text": "déjà"}).encode()
    assert form_fields("", utf8)["text"] == "déjà"


def test_legacy_json_bodies_take_the_urls_token_first() -> None:
    callback = read_callback("token=t", b'{"from": "27821000009", "text": "STOP", "token": "body"}')
    (message,) = callback.messages
    assert (callback.token, callback.error, message.sender, message.text) == (
        "t",
        None,
        "27821000009",
        "STOP",
    )
    assert read_callback("", b'{"from": "27821000009", "token": "body"}').token == "body"
    assert read_callback("", b"[1, 2]").error == "from is missing"  # read as a form: no sender
    assert read_callback("token=t", b"{broken").error == "body is not a JSON object"
    assert read_callback("a=1&a=2&token=t&token=u", b"").token == "t"


XML = (
    '<?xml version="1.0" encoding="ISO-8859-1"?><callback><api_id>3456789</api_id>'
    "<moMsgId>b2aee337abd962489b123fda9c3480fa</moMsgId><from>27821000009</from><to>27999000000</to>"
    "<timestamp>2026-12-01 10:30:00</timestamp><text>Arr\xeate</text><charset>ISO-8859-1</charset>"
    "<udh></udh></callback>"
)


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (f"token=t&{urlencode({'data': XML.replace(chr(92) + 'xea', 'ê')})}", b""),  # GET, data=
        ("token=t", urlencode({"data": XML.replace(chr(92) + "xea", "ê")}).encode()),  # POST form, data=
        ("token=t", XML.replace(chr(92) + "xea", "ê").encode("latin-1")),  # the document as the body
    ],
)
def test_xml_callbacks_in_data_or_as_the_body(query: str, body: bytes) -> None:
    callback = read_callback(query, body)
    (message,) = callback.messages
    assert (callback.token, message.mo_message_id, message.sender) == (
        "t",
        "b2aee337abd962489b123fda9c3480fa",
        "27821000009",
    )
    assert (message.text, message.sent_at) == ("Arrête", "2026-12-01T08:30:00Z")


def test_malformed_or_foreign_xml_is_refused_with_its_reason() -> None:
    assert read_callback("token=t", b"<callback><from>1</callback>").error == (
        "data is not a well-formed XML document"
    )
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><callback><from>&a;</from></callback>'
    assert read_callback("token=t", bomb).error == "data is not a well-formed XML document"
    refused = read_callback("", urlencode({"token": "t", "data": "<report><from>1</from></report>"}).encode())
    assert (refused.token, refused.error) == ("t", "XML document's root must be <callback>")


ONE_API = {
    "integrationId": "fa8090815f05d5ed015f0b5b56080cd2",
    "integrationName": "My integration",
    "event": {
        "moText": [
            {
                "channel": "sms",
                "messageId": "3a89680503414383af44dcd0e4e5f184",
                "relatedMessageId": "d33eef0838a121f71069a4cc8d55c19e",
                "relatedClientMessageId": None,
                "from": "+27821000009",
                "to": "27999000000",
                "timestamp": 1796173184000,
                "content": "Stop ✋",
                "charset": "UTF-8",
            },
            {"channel": "whatsapp", "messageId": "w", "from": "27821000010", "content": "STOP"},
            {"channel": "SMS", "messageId": "second", "from": "27821000011", "content": "hi", "timestamp": 0},
        ]
    },
}


def test_the_one_apis_reply_callback_gives_one_message_per_sms_reply() -> None:
    callback = read_callback("token=t", json.dumps(ONE_API).encode())
    assert (callback.token, callback.error) == ("t", None)
    first, second = callback.messages  # the WhatsApp reply is not an SMS: left out
    assert (first.mo_message_id, first.sender, first.sender_valid, first.to) == (
        "3a89680503414383af44dcd0e4e5f184",
        "27821000009",
        True,
        "27999000000",
    )
    assert (first.text, first.charset, first.sent_at, first.api_id) == (
        "Stop ✋",
        "UTF-8",
        "2026-12-02T00:59:44Z",
        "fa8090815f05d5ed015f0b5b56080cd2",
    )
    assert (second.mo_message_id, second.sender, second.sent_at) == ("second", "27821000011", None)


def test_one_api_callbacks_without_sms_replies_are_empty_and_too_many_are_refused() -> None:
    whatsapp_only = {"integrationId": "x", "event": {"moMedia": [{"channel": "whatsapp"}]}}
    assert read_callback("token=t", json.dumps(whatsapp_only).encode()) == read_callback(
        "token=t", b'{"event": {"moText": []}}'
    )
    empty = read_callback("token=t", json.dumps(whatsapp_only).encode())
    assert (empty.messages, empty.error) == ((), None)
    senderless = {"event": {"moText": [{"channel": "sms", "content": "STOP", "from": None}]}}
    assert read_callback("token=t", json.dumps(senderless).encode()).error == "from is missing"
    many = {"event": {"moText": [{"from": "27821000009", "content": "x"}] * (MAX_REPLIES + 1)}}
    assert read_callback("token=t", json.dumps(many).encode()).error == (
        f"more than {MAX_REPLIES} replies in one callback"
    )


def test_the_earlier_platforms_flat_reply_callback() -> None:
    body = {
        "integrationId": "i",
        "messageId": "m1",
        "replyMessageId": "r1",
        "apiKey": "k",
        "fromNumber": "27821000009",
        "toNumber": "27999000000",
        "timestamp": 1796173184,
        "text": "STOP",
        "charset": "UTF-8",
        "udh": "",
        "network": 1,
        "keyword": "",
    }
    (message,) = read_callback("token=t", json.dumps(body).encode()).messages
    assert (message.mo_message_id, message.sender, message.to, message.text, message.sent_at) == (
        "m1",
        "27821000009",
        "27999000000",
        "STOP",
        "2026-12-02T00:59:44Z",
    )
