"""`Message`, `Credentials` and the `sendmsg` form (API doc section 1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bulksms.domain.encoding import encode_text
from bulksms.domain.message import (
    FLASH,
    TEXT,
    Credentials,
    Encoding,
    Message,
    build_sendmsg_form,
    sender_problem,
)
from hypothesis import given
from hypothesis import strategies as st

CREDS = Credentials(user="acme", password="s3cr3t-P@ss", api_id="3456789")
N1, N2 = "27999000001", "27999000002"
CLIMSGID = "job42c0007"
AUTH = {"api_id": "3456789", "user": "acme", "password": "s3cr3t-P@ss"}


def form(message: Message, numbers: tuple[str, ...] = (N1, N2)) -> dict[str, str]:
    return build_sendmsg_form(message, numbers, CREDS, CLIMSGID)


# --- text forms ----------------------------------------------------------------------------------


def test_gsm7_single_part_form_is_exact() -> None:
    message = Message(Encoding.GSM7, "Your code is 1234", 1)
    assert form(message) == {
        **AUTH,
        "to": f"{N1},{N2}",
        "climsgid": CLIMSGID,
        "text": "Your code is 1234",
    }


def test_gsm7_text_is_sent_as_is_without_unicode() -> None:
    text = "Price: 5€ [ok] {x} ~ ^ | \\ ü é"
    result = form(Message(Encoding.GSM7, text, 1))
    assert result["text"] == text
    assert "unicode" not in result
    assert "data" not in result


def test_ucs2_sends_hex_payload_with_unicode_flag() -> None:
    encoded = encode_text("Привет Ω", "ucs2")
    message = Message(Encoding.UCS2, encoded.payload, encoded.parts)
    result = form(message)
    assert result["text"] == "041F04400438043204350442002003A9"
    assert result["unicode"] == "1"
    assert "concat" not in result
    assert "data" not in result


def test_multi_part_gsm7_sets_concat_to_parts() -> None:
    result = form(Message(Encoding.GSM7, "x" * 300, 2))
    assert result["concat"] == "2"
    assert result["text"] == "x" * 300


def test_multi_part_ucs2_sets_concat_and_unicode() -> None:
    result = form(Message(Encoding.UCS2, "03A9" * 100, 3))
    assert (result["concat"], result["unicode"], result["text"]) == ("3", "1", "03A9" * 100)


def test_single_part_has_no_concat() -> None:
    assert "concat" not in form(Message(Encoding.GSM7, "hi", 1))


# --- binary forms --------------------------------------------------------------------------------


def test_binary_with_udh_sends_data_and_udh_only() -> None:
    message = Message(Encoding.BINARY, "DEADBEEF", 1, udh="0605040B8423F0")
    assert form(message) == {
        **AUTH,
        "to": f"{N1},{N2}",
        "climsgid": CLIMSGID,
        "data": "DEADBEEF",
        "udh": "0605040B8423F0",
    }


def test_binary_without_udh_forces_binary() -> None:
    result = form(Message(Encoding.BINARY, "00FF10", 1))
    assert result["data"] == "00FF10"
    assert result["binary"] == "1"
    assert "udh" not in result
    assert "text" not in result
    assert "unicode" not in result


def test_binary_never_sets_concat_or_text() -> None:
    result = form(Message(Encoding.BINARY, "00FF", 2, udh="050003CC0201"))
    assert "concat" not in result
    assert "text" not in result
    assert "binary" not in result  # udh already implies 8-bit


# --- options -------------------------------------------------------------------------------------


def test_flash_sets_msg_type() -> None:
    assert form(Message(Encoding.GSM7, "hi", 1, msg_type=FLASH))["msg_type"] == "SMS_FLASH"


def test_text_msg_type_is_the_default_and_not_sent() -> None:
    assert TEXT == "SMS_TEXT"
    assert "msg_type" not in form(Message(Encoding.GSM7, "hi", 1))


def test_from_and_mo() -> None:
    result = form(Message(Encoding.GSM7, "hi", 1, sender="27999000000", mo=True))
    assert result["from"] == "27999000000"
    assert result["mo"] == "1"


def test_no_from_no_mo_by_default() -> None:
    result = form(Message(Encoding.GSM7, "hi", 1))
    assert "from" not in result
    assert "mo" not in result
    assert "callback" not in result
    assert "deliv_ack" not in result


@pytest.mark.parametrize(
    ("level", "deliv_ack"),
    [(1, False), (2, True), (3, True), (4, False), (5, False), (6, True), (7, True)],
)
def test_callback_and_deliv_ack_only_for_levels_with_final_statuses(level: int, deliv_ack: bool) -> None:
    result = form(Message(Encoding.GSM7, "hi", 1, callback=level))
    assert result["callback"] == str(level)
    assert ("deliv_ack" in result) is deliv_ack
    if deliv_ack:
        assert result["deliv_ack"] == "1"


def test_callback_zero_is_not_sent() -> None:
    result = form(Message(Encoding.GSM7, "hi", 1, callback=0))
    assert "callback" not in result
    assert "deliv_ack" not in result


def test_climsgid_and_to_and_credentials() -> None:
    result = build_sendmsg_form(Message(Encoding.GSM7, "hi", 1), [N2], CREDS, "abc123")
    assert result["climsgid"] == "abc123"
    assert result["to"] == N2
    assert (result["api_id"], result["user"], result["password"]) == ("3456789", "acme", "s3cr3t-P@ss")


def test_every_form_value_is_a_string() -> None:
    message = Message(Encoding.UCS2, "03A9", 2, sender="ACME", mo=True, callback=3, msg_type=FLASH)
    result = form(message)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


# --- credentials ---------------------------------------------------------------------------------


def test_credentials_repr_hides_the_password() -> None:
    assert "s3cr3t-P@ss" not in repr(CREDS)
    assert "s3cr3t-P@ss" not in str(CREDS)
    assert "acme" in repr(CREDS)
    assert "password" not in repr(CREDS)


def test_credentials_are_immutable() -> None:
    with pytest.raises(AttributeError):
        CREDS.password = "other"  # type: ignore[misc]


# --- queue / DynamoDB item round trip -------------------------------------------------------------


def test_to_item_omits_absent_options() -> None:
    item = Message(Encoding.GSM7, "hi", 1).to_item()
    assert item == {
        "encoding": "gsm7",
        "payload": "hi",
        "parts": 1,
        "mo": False,
        "callback": 0,
        "msg_type": TEXT,
    }
    assert None not in item.values()


def test_to_item_full() -> None:
    message = Message(
        Encoding.BINARY,
        "DEADBEEF",
        1,
        udh="0605040B8423F0",
        sender="ACME",
        mo=True,
        callback=7,
        msg_type=TEXT,
    )
    assert message.to_item() == {
        "encoding": "binary",
        "payload": "DEADBEEF",
        "parts": 1,
        "mo": True,
        "callback": 7,
        "msg_type": TEXT,
        "udh": "0605040B8423F0",
        "sender": "ACME",
    }


def test_from_item_accepts_dynamodb_decimals() -> None:
    item = {
        "encoding": "ucs2",
        "payload": "03A9",
        "parts": Decimal("2"),
        "mo": True,
        "callback": Decimal("3"),
        "msg_type": FLASH,
        "sender": "27999000000",
    }
    message = Message.from_item(item)
    assert message == Message(Encoding.UCS2, "03A9", 2, None, "27999000000", True, 3, FLASH)
    assert type(message.parts) is int and type(message.callback) is int


def test_from_item_defaults() -> None:
    assert Message.from_item({"encoding": "gsm7", "payload": "hi", "parts": 1}) == Message(
        Encoding.GSM7, "hi", 1
    )


_hex = st.from_regex(r"(?:[0-9A-F]{2}){1,20}", fullmatch=True)
_messages = st.builds(
    Message,
    encoding=st.sampled_from(list(Encoding)),
    payload=st.text(max_size=200),
    parts=st.integers(1, 10),
    udh=st.none() | _hex,
    sender=st.none() | st.from_regex(r"[0-9]{1,16}|[A-Za-z0-9]{1,11}", fullmatch=True),
    mo=st.booleans(),
    callback=st.integers(0, 7),
    msg_type=st.sampled_from([TEXT, FLASH]),
)


@given(_messages)
def test_item_round_trip(message: Message) -> None:
    item = message.to_item()
    assert None not in item.values()
    assert Message.from_item(item) == message


@given(_messages)
def test_item_round_trip_through_dynamodb_types(message: Message) -> None:
    # boto3's deserializer hands numbers back as Decimal.
    item = {
        k: Decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in message.to_item().items()
    }
    assert Message.from_item(item) == message


# --- delivery settings (validity, priority queue) -------------------------------------------------


def test_validity_and_queue_are_sent_when_set() -> None:
    message = Message(Encoding.GSM7, "hi", 1, validity=240, queue=1)
    result = form(message)
    assert (result["validity"], result["queue"]) == ("240", "1")
    assert "validity" not in form(Message(Encoding.GSM7, "hi", 1))
    assert "queue" not in form(Message(Encoding.GSM7, "hi", 1))


def test_validity_and_queue_survive_the_stored_item() -> None:
    message = Message(Encoding.GSM7, "hi", 1, validity=30, queue=2)
    assert Message.from_item(message.to_item()) == message
    plain = Message(Encoding.GSM7, "hi", 1)
    assert "validity" not in plain.to_item() and Message.from_item(plain.to_item()) == plain


# --- sender IDs and mo (reference section 1) -----------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "mo"),
    [
        (None, False),
        ("27999000000", False),
        ("27999000000", True),
        ("1" * 16, True),
        ("MyShop", False),
        ("ACME2026", False),
        ("A" * 11, False),
        ("12345", True),
    ],
)
def test_sender_ids_clickatell_accepts(sender: str | None, mo: bool) -> None:
    assert sender_problem(sender, mo) is None


@pytest.mark.parametrize(
    ("sender", "mo", "words"),
    [
        ("My Shop", False, "not a sender ID"),  # the probe: Clickatell answers 106
        ("", False, "not a sender ID"),
        ("1" * 17, False, "not a sender ID"),
        ("A" * 12, False, "not a sender ID"),
        ("+27999000000", False, "not a sender ID"),
        ("Shop-1", False, "not a sender ID"),
        ("Café", False, "not a sender ID"),
        (None, True, "mo needs from"),
        ("MyShop", True, "two-way number"),
    ],
)
def test_sender_ids_clickatell_refuses_name_from(sender: str | None, mo: bool, words: str) -> None:
    problem = sender_problem(sender, mo)
    assert problem is not None
    assert problem[0] == "from" and words in problem[1]
