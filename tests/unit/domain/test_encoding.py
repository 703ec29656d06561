from __future__ import annotations

import sys

import gsm0338  # noqa: F401  (registers the codec for the cross-checks below)
import pytest
from bulksms.domain.encoding import (
    GSM7_ALPHABET,
    GSM7_EXTENSION,
    EncodedText,
    TextError,
    encode_text,
)
from bulksms.domain.message import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

UNLIMITED = sys.maxsize


def error(text: str, encoding: str = "auto", **kwargs: object) -> TextError:
    with pytest.raises(TextError) as caught:
        encode_text(text, encoding, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- detection -------------------------------------------------------------------------------


def test_ascii_is_gsm7_and_payload_is_the_text() -> None:
    assert encode_text("Your code is 1234") == EncodedText(Encoding.GSM7, 1, 17, "Your code is 1234", None)


@pytest.mark.parametrize("char", ["€", "[", "]", "{", "}", "\\", "^", "~", "|", "\f"])
def test_extension_characters_cost_two_septets(char: str) -> None:
    result = encode_text(f"a{char}b")
    assert (result.encoding, result.units, result.payload) == (Encoding.GSM7, 4, f"a{char}b")


@pytest.mark.parametrize("text", ["é", "Ω", "ñ", "Ä", "ß", "£", "¥", "¿", "¡", "Ç", "ΔΦΓΛΠΨΣΘΞ", "@$_\n\r"])
def test_basic_set_beyond_ascii_is_gsm7(text: str) -> None:
    result = encode_text(text)
    assert (result.encoding, result.units) == (Encoding.GSM7, len(text))


@pytest.mark.parametrize(
    ("text", "units"),
    [("Привет", 6), ("😀", 2), ("你好", 2), ("a😀", 3), ("Ωж", 2)],
)
def test_non_gsm_text_is_ucs2(text: str, units: int) -> None:
    result = encode_text(text)
    assert (result.encoding, result.units, result.parts) == (Encoding.UCS2, units, 1)


# The gsm0338 codec refuses these rather than mapping them to look-alikes, and ESC is the one
# character it encodes lossily (a bare 0x1B decodes to nothing, or to € before an "e").
@pytest.mark.parametrize(
    "char",
    [
        "ç",
        "á",
        "í",
        "ó",
        "ú",
        "À",
        "\u2019",  # right single quote
        "\u2018",
        "“",
        "”",
        "\u00a0",
        "\u2013",  # en dash
        "—",
        "…",
        "`",
        "\t",
        "°",
        "\x1b",
        "\x00",
    ],
)
def test_characters_without_a_faithful_gsm7_form_go_ucs2(char: str) -> None:
    text = f"Hi {char}e"
    result = encode_text(text)
    assert result.encoding is Encoding.UCS2
    assert bytes.fromhex(result.payload).decode("utf-16-be") == text


def test_escape_character_would_turn_into_euro_in_the_codec() -> None:
    # Documents the library behaviour the alphabet check protects against.
    assert "\x1be".encode("gsm03.38").decode("gsm03.38") == "€"
    assert "\x1b".encode("gsm03.38").decode("gsm03.38") == ""
    assert "\x1b" not in GSM7_ALPHABET
    assert encode_text("\x1be").payload == "001B0065"


def test_alphabet_is_exactly_what_the_codec_round_trips() -> None:
    round_trips = set()
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        try:
            if char.encode("gsm03.38").decode("gsm03.38") == char:
                round_trips.add(char)
        except UnicodeError:
            continue
    assert round_trips == GSM7_ALPHABET
    assert len(GSM7_ALPHABET) == 137  # 128 basic minus ESC, plus 10 extension characters
    assert set("€[]{}\\^~|\f") == GSM7_EXTENSION


# --- requested encodings ---------------------------------------------------------------------


def test_gsm7_requested_with_gsm_text() -> None:
    assert encode_text("Hi €5", "gsm7") == EncodedText(Encoding.GSM7, 1, 6, "Hi €5", None)


def test_gsm7_requested_with_other_characters_names_the_first_one() -> None:
    exc = error("Don\u2019t \u201cgo\u201d", "gsm7")
    assert exc.field == "text"
    assert exc.message == (
        "character '\u2019' (U+2019) at position 4 is not in the GSM-7 alphabet; use encoding ucs2 or auto"
    )
    assert str(exc) == exc.message


def test_ucs2_requested_always_ucs2() -> None:
    assert encode_text("Hi", "ucs2") == EncodedText(Encoding.UCS2, 1, 2, "00480069", None)


@pytest.mark.parametrize(
    ("text", "payload"),
    [("Ω", "03A9"), ("😀", "D83DDE00"), ("é€", "00E920AC"), ("Привет", "041F04400438043204350442")],
)
def test_ucs2_payload_is_uppercase_utf16be_hex(text: str, payload: str) -> None:
    assert encode_text(text, "ucs2").payload == payload


@pytest.mark.parametrize("encoding", ["utf8", "GSM7", "unicode", "", "8bit"])
def test_unknown_encoding(encoding: str) -> None:
    exc = error("hi", encoding)
    assert (exc.field, exc.message) == ("encoding", "must be one of auto, gsm7, ucs2, binary")


@pytest.mark.parametrize("encoding", ["auto", "gsm7", "ucs2", "binary"])
def test_empty_text(encoding: str) -> None:
    exc = error("", encoding)
    assert (exc.field, exc.message) == ("text", "text is empty")


@pytest.mark.parametrize("encoding", ["auto", "gsm7", "ucs2"])
def test_udh_only_with_binary(encoding: str) -> None:
    exc = error("hello", encoding, udh="0605040B8423F0")
    assert (exc.field, exc.message) == ("udh", "udh is only allowed with encoding binary")


def test_unpaired_surrogate_is_a_text_error() -> None:
    exc = error("ab\ud83d", "auto")
    assert exc.field == "text"
    assert exc.message == "text has an unpaired surrogate (U+D83D) at position 3"


def test_enum_values_are_accepted_as_encoding() -> None:
    assert encode_text("hi", Encoding.UCS2).encoding is Encoding.UCS2


# --- GSM-7 parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("septets", "parts"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (612, 4), (613, 5)],
)
def test_gsm7_part_boundaries(septets: int, parts: int) -> None:
    result = encode_text("a" * septets, max_parts=UNLIMITED)
    assert (result.encoding, result.units, result.parts) == (Encoding.GSM7, septets, parts)


def test_extension_characters_at_the_single_part_boundary() -> None:
    assert encode_text("€" * 80).parts == 1  # 160 septets
    assert encode_text("a" * 159 + "€").parts == 2  # 161 septets


def test_escape_pair_is_never_split_across_parts() -> None:
    # 152 + 2 + 152 = 306 septets would fit 2 parts of 153, but the € would straddle the cut.
    text = "a" * 152 + "€" + "a" * 152
    result = encode_text(text)
    assert (result.units, result.parts) == (306, 3)
    # One septet earlier the pair fits inside part one and two parts suffice.
    assert encode_text("a" * 151 + "€" + "a" * 153).parts == 2


def test_gsm7_too_many_parts() -> None:
    exc = error("a" * 460)
    assert exc.field == "text"
    assert exc.message == (
        "text needs 4 parts (460 GSM-7 septets; € [ ] { } \\ ^ ~ | count 2); the limit is 3 parts, "
        "about 459 septets: shorten the text"
    )
    assert encode_text("a" * 460, max_parts=4).parts == 4


def test_max_parts_one() -> None:
    assert encode_text("a" * 160, max_parts=1).parts == 1
    exc = error("a" * 161, max_parts=1)
    assert exc.message.startswith("text needs 2 parts (161 GSM-7 septets")
    assert "the limit is 1 parts, about 160 septets" in exc.message


def test_max_parts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        encode_text("hi", max_parts=0)


# --- UCS-2 parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_part_boundaries(units: int, parts: int) -> None:
    result = encode_text("Ж" * units, max_parts=UNLIMITED)
    assert (result.encoding, result.units, result.parts) == (Encoding.UCS2, units, parts)


def test_emoji_count_two_units() -> None:
    assert encode_text("😀" * 35).parts == 1  # 70 units
    result = encode_text("😀" * 36)
    assert (result.units, result.parts) == (72, 2)


def test_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 + 2 + 66 = 134 units would fit 2 parts of 67, but the emoji would straddle the cut.
    assert encode_text("Ж" * 66 + "😀" + "Ж" * 66).parts == 3
    assert encode_text("Ж" * 65 + "😀" + "Ж" * 67).parts == 2


def test_ucs2_too_many_parts_points_at_the_character_that_forced_it() -> None:
    exc = error("Don\u2019t " + "a" * 300)
    assert exc.field == "text"
    assert exc.message == (
        "text needs 5 parts (306 UCS-2 characters; emoji count 2); the limit is 3 parts, about 201 "
        "characters: shorten the text, or replace characters outside the GSM-7 alphabet (the first is "
        "'\u2019' at position 4) so it can be sent as GSM-7"
    )


def test_ucs2_requested_too_long_only_says_shorten() -> None:
    exc = error("a" * 202, "ucs2")
    assert exc.message.endswith("about 201 characters: shorten the text")


# --- binary ----------------------------------------------------------------------------------


def test_binary_with_udh_is_normalised_to_uppercase() -> None:
    result = encode_text("0a1b2c", "binary", udh="0605040b8423f0")
    assert result == EncodedText(Encoding.BINARY, 1, 3, "0A1B2C", "0605040B8423F0")


def test_binary_without_udh() -> None:
    assert encode_text("DEADBEEF", "binary") == EncodedText(Encoding.BINARY, 1, 4, "DEADBEEF", None)


@pytest.mark.parametrize("text", ["ABC", "0G", "DE AD", "0xDEAD", "héllo", "12 ", "\u0661\u0662"])
def test_binary_text_must_be_even_hex(text: str) -> None:
    exc = error(text, "binary")
    assert exc.field == "text"
    assert exc.message.startswith("binary text must be hex")


@pytest.mark.parametrize(
    "udh",
    [
        "",
        "0605040B8423F",  # odd length
        "0705040B8423F0",  # UDHL says 7 bytes follow, 6 do
        "0505040B8423F0",  # UDHL says 5
        "06 05040B8423F0",
        "ZZ05040B8423F0",
    ],
)
def test_bad_udh(udh: str) -> None:
    exc = error("00", "binary", udh=udh)
    assert exc.field == "udh"
    assert "first byte must be the number of bytes that follow it" in exc.message


def test_minimal_udh_is_its_length_byte() -> None:
    assert encode_text("00", "binary", udh="00").udh == "00"


def test_binary_size_limit_includes_udh() -> None:
    udh = "0605040B8423F0"  # 7 bytes
    assert encode_text("00" * 133, "binary", udh=udh).units == 133
    assert encode_text("00" * 140, "binary").parts == 1
    exc = error("00" * 134, "binary", udh=udh)
    assert exc.field == "text"
    assert exc.message == (
        "binary message is 141 bytes (udh 7 + data 134), which exceeds 140 bytes; binary messages are "
        "sent as one part, so shorten the data"
    )
    assert error("00" * 141, "binary").message.startswith("binary message is 141 bytes (udh 0 + data 141)")


# --- properties ------------------------------------------------------------------------------

_gsm_chars = sorted(GSM7_ALPHABET)
gsm_text = st.text(st.sampled_from(_gsm_chars), min_size=1, max_size=700)
# Weighted towards the interesting ones: extension characters and emoji.
gsm_heavy_ext = st.text(st.sampled_from(["a", "a", "a", "€", "{", "]"]), min_size=1, max_size=700)
any_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=400)
ucs_heavy_astral = st.text(st.sampled_from(["Ж", "Ж", "😀", "𝄞"]), min_size=1, max_size=300)


def _reference_parts(costs: list[int], single: int, size: int) -> int:
    """Independent model: place characters one by one; a character that doesn't fit opens a part."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > size:
            parts, used = parts + 1, 0
        used += cost
    return parts


@given(st.one_of(gsm_text, gsm_heavy_ext))
def test_gsm7_septets_and_parts(text: str) -> None:
    result = encode_text(text, max_parts=UNLIMITED)
    assert result.encoding is Encoding.GSM7
    assert result.units == len(text.encode("gsm03.38"))
    assert (result.parts == 1) == (result.units <= 160)
    costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    assert result.parts == _reference_parts(costs, 160, 153)


@given(st.one_of(any_text, ucs_heavy_astral))
def test_ucs2_payload_round_trips_and_parts(text: str) -> None:
    result = encode_text(text, "ucs2", max_parts=UNLIMITED)
    assert bytes.fromhex(result.payload).decode("utf-16-be") == text
    assert result.payload == result.payload.upper()
    assert result.units == len(result.payload) // 4
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    assert result.parts == _reference_parts(costs, 70, 67)


@given(st.one_of(gsm_text, gsm_heavy_ext, any_text, ucs_heavy_astral))
@settings(max_examples=60)
def test_parts_monotonic_in_length(text: str) -> None:
    previous = 0
    for end in range(1, len(text) + 1):
        parts = encode_text(text[:end], max_parts=UNLIMITED).parts
        assert parts >= previous
        previous = parts


@given(any_text)
def test_auto_is_gsm7_exactly_when_the_codec_round_trips(text: str) -> None:
    try:
        faithful = text.encode("gsm03.38").decode("gsm03.38") == text
    except UnicodeError:
        faithful = False
    result = encode_text(text, max_parts=UNLIMITED)
    assert (result.encoding is Encoding.GSM7) == faithful
    if result.encoding is Encoding.UCS2:
        assert bytes.fromhex(result.payload).decode("utf-16-be") == text


@given(st.binary(min_size=1, max_size=140))
def test_binary_payload_is_the_bytes(data: bytes) -> None:
    result = encode_text(data.hex(), "binary")
    assert bytes.fromhex(result.payload) == data
    assert (result.units, result.parts) == (len(data), 1)


def test_huge_text_is_refused_with_its_length() -> None:
    exc = error("a" * 5_000_000)
    assert "5000000 GSM-7 septets" in exc.message
    exc = error("Ж" * 5_000_000)
    assert "5000000 UCS-2 characters" in exc.message
