from __future__ import annotations

import pytest
from bulksms.domain.numbers import (
    EMPTY,
    LEADING_ZERO,
    NOT_DIGITS,
    TOO_LONG,
    TOO_SHORT,
    UNKNOWN_COUNTRY,
    RecipientList,
    Rejection,
    parse_recipients,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SA = "27821234567"


def one(number: str) -> RecipientList:
    return parse_recipients([number])


def reason(number: str) -> str:
    result = one(number)
    assert result.accepted == (), result
    assert len(result.rejected) == 1
    assert result.rejected[0].to == number
    return result.rejected[0].reason


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        "+27 82 123 4567",
        "0027821234567",
        "+27-82-123-4567",
        "27.82.123.4567",
        "+27 (82) 123-4567",
        "(+27) 82 123 4567",
        "00 27 82 123 45 67",
        "+27\u00a082\u00a0123\u00a04567",  # non-breaking spaces from a pasted document
        "+27\u201382\u2013123\u20134567",  # en dashes
    ],
)
def test_formatting_is_removed_and_counted(sent: str) -> None:
    result = one(sent)
    assert result == RecipientList((SA,), (), 0, 1)


def test_plain_digits_are_not_counted_as_normalised() -> None:
    assert one(SA) == RecipientList((SA,), (), 0, 0)


def test_surrounding_whitespace_alone_is_not_normalisation() -> None:
    assert one(f"  {SA}\t") == RecipientList((SA,), (), 0, 0)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("0821234567", LEADING_ZERO),
        ("082 123 4567", LEADING_ZERO),
        ("+0821234567", LEADING_ZERO),  # only one international prefix is removed
        ("000027821234567", LEADING_ZERO),
        ("27821234567a", NOT_DIGITS),
        ("call 27821234567", NOT_DIGITS),
        ("27/82/1234567", NOT_DIGITS),
        ("2782123456#", NOT_DIGITS),
        ("27+821234567", NOT_DIGITS),
        ("".join(chr(0xFF10 + int(d)) for d in SA), NOT_DIGITS),  # full-width: isdigit() is True
        ("27821234567²", NOT_DIGITS),
        ("2782123", TOO_SHORT),
        ("+1 202", TOO_SHORT),
        ("1234567890123456", TOO_LONG),
        ("+27 82 123 4567 8901 2", TOO_LONG),
        ("+", "contains no digits"),
        ("( - )", "contains no digits"),
    ],
)
def test_rejections_before_phonenumbers(sent: str, expected: str) -> None:
    assert reason(sent) == expected


def test_length_boundaries() -> None:
    # 8 and 15 digits reach phonenumbers (and fail there); 7 and 16 are stopped by the length check,
    # even where phonenumbers would call 7 digits valid (it accepts +27 82123).
    assert reason("2782123") == TOO_SHORT
    assert reason("27123456") == "not a valid number for country code +27"
    assert reason("278212345678901") == "not a valid number for country code +27"
    assert reason("2782123456789012") == TOO_LONG


@pytest.mark.parametrize(
    "number",
    [
        "27821234567",  # South Africa, mobile
        "27831234567",
        "447400123456",  # UK mobile
        "447911123456",  # UK-numbered mobile (libphonenumber files 7911 12 under Guernsey)
        "12025550123",  # US, Washington DC
        "14155552671",  # US, San Francisco
        "4915123456789",  # Germany mobile
        "33612345678",  # France mobile
        "61412345678",  # Australia mobile
        "254712345678",  # Kenya mobile
        "919876543210",  # India mobile
        "390612345678",  # Italy: the 0 after +39 is part of the number, not a trunk prefix
    ],
)
def test_valid_numbers_in_several_countries(number: str) -> None:
    assert one(number) == RecipientList((number,), (), 0, 0)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("+27 99 900 0001", "not a valid number for country code +27"),
        ("27999000001", "not a valid number for country code +27"),
        ("+44 7700 900123", "not a valid number for country code +44"),  # Ofcom drama range
        ("1234567890", "not a valid number for country code +1"),
        ("3912345678", "not a valid number for country code +39"),
        ("99912345678", UNKNOWN_COUNTRY),
        ("37912345678", UNKNOWN_COUNTRY),
    ],
)
def test_rejected_by_phonenumbers(sent: str, expected: str) -> None:
    assert reason(sent) == expected


@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        ("+44 (0)7911 123456", "447911123456"),
        ("270821234567", SA),
        ("+33 (0)6 12 34 56 78", "33612345678"),
    ],
)
def test_trunk_prefix_after_country_code_is_rejected_not_rewritten(sent: str, canonical: str) -> None:
    # phonenumbers would validate these by dropping the 0; we must not send digits it did not validate.
    assert reason(sent) == (
        f"not in international format: remove the national prefix after the country code ({canonical})"
    )


# --- input shapes ----------------------------------------------------------------------------


def test_comma_string_and_list_give_the_same_result() -> None:
    as_list = parse_recipients(["27821234567", "+44 7400 123456", "12025550123"])
    as_string = parse_recipients("27821234567, +44 7400 123456 ,12025550123")
    assert as_list == as_string
    assert as_list.accepted == ("27821234567", "447400123456", "12025550123")
    assert as_list.normalised == 1


def test_single_number_string() -> None:
    assert parse_recipients(SA) == RecipientList((SA,), (), 0, 0)


def test_comma_string_items_are_reported_trimmed() -> None:
    result = parse_recipients("27821234567,  0821234567 ")
    assert result.rejected == (Rejection("0821234567", LEADING_ZERO),)


def test_list_items_are_reported_exactly_as_sent() -> None:
    result = parse_recipients([" 0821234567 "])
    assert result.rejected == (Rejection(" 0821234567 ", LEADING_ZERO),)


@pytest.mark.parametrize("raw", ["27821234567,,27831234567", "27821234567, ,27831234567"])
def test_empty_item_in_comma_string_is_rejected(raw: str) -> None:
    result = parse_recipients(raw)
    assert result.accepted == ("27821234567", "27831234567")
    assert result.rejected == (Rejection("", EMPTY),)


def test_trailing_comma_is_an_empty_item() -> None:
    assert parse_recipients("27821234567,").rejected == (Rejection("", EMPTY),)


def test_empty_inputs() -> None:
    assert parse_recipients([]) == RecipientList((), (), 0, 0)
    assert parse_recipients("") == RecipientList((), (Rejection("", EMPTY),), 0, 0)
    assert parse_recipients(["", "   "]).rejected == (Rejection("", EMPTY), Rejection("   ", EMPTY))


def test_non_string_items_are_rejected_not_crashing() -> None:
    result = parse_recipients([27821234567, None, SA])  # type: ignore[list-item]
    assert result.accepted == (SA,)
    assert result.rejected == (
        Rejection("27821234567", "must be a string of digits"),
        Rejection("None", "must be a string of digits"),
    )


# --- duplicates and order --------------------------------------------------------------------


def test_duplicates_across_formats_are_removed_and_counted() -> None:
    result = parse_recipients(["+27 82 123 4567", "0027821234567", "27821234567", "27-82-123-4567"])
    assert result == RecipientList((SA,), (), 3, 3)


def test_first_seen_order_is_kept() -> None:
    numbers = ["447400123456", "27831234567", "12025550123", "27821234567"]
    result = parse_recipients([numbers[0], numbers[1], "+" + numbers[0], numbers[2], numbers[1], numbers[3]])
    assert result.accepted == tuple(numbers)
    assert result.duplicates_removed == 2


def test_repeated_invalid_number_is_rejected_each_time() -> None:
    result = parse_recipients(["0821234567", SA, "0821234567", "082 123 4567"])
    assert result.accepted == (SA,)
    assert result.duplicates_removed == 0
    assert [r.to for r in result.rejected] == ["0821234567", "0821234567", "082 123 4567"]
    assert {r.reason for r in result.rejected} == {LEADING_ZERO}


def test_mixed_list_accounts_for_every_input() -> None:
    raw = ["27821234567", "0821234567", "+27 82 123 4567", "27999000001", "", "447400123456"]
    result = parse_recipients(raw)
    assert result.accepted == ("27821234567", "447400123456")
    assert [r.to for r in result.rejected] == ["0821234567", "27999000001", ""]
    assert result.duplicates_removed == 1
    assert result.normalised == 1
    assert result.total == len(raw)


# --- properties ------------------------------------------------------------------------------

# Prefixes where every completion of the given length is a valid mobile number (checked in
# test_generated_numbers_are_valid, so a metadata change shows up there first).
_VALID_PREFIXES = [
    ("2782", 7),
    ("2783", 7),
    ("2772", 7),
    ("4474", 8),
    ("4478", 8),
    ("3361", 7),
    ("6141", 7),
    ("2547", 8),
    ("9198", 8),
]

valid_numbers = st.sampled_from(_VALID_PREFIXES).flatmap(
    lambda p: st.text("0123456789", min_size=p[1], max_size=p[1]).map(lambda rest: p[0] + rest)
)


@st.composite
def formatted(draw: st.DrawFn, digits: str) -> str:
    """`digits` with random formatting noise that normalisation must undo."""
    prefix = draw(st.sampled_from(["", "+", "00", "+ ", "00 "]))
    out: list[str] = []
    for digit in digits:
        out.append(draw(st.sampled_from(["", "", "", " ", "-", ".", "(", ")", "\u00a0"])))
        out.append(digit)
    return prefix + "".join(out).lstrip(" \u00a0")


@st.composite
def noisy_lists(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    pool = draw(st.lists(valid_numbers, min_size=1, max_size=12))
    picks = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=40))
    return picks, [draw(formatted(digits)) for digits in picks]


@given(valid_numbers)
def test_generated_numbers_are_valid(number: str) -> None:
    assert one(number).accepted == (number,)


@given(noisy_lists())
@settings(max_examples=200)
def test_accepted_is_deduplicated_normalised_list(case: tuple[list[str], list[str]]) -> None:
    digits, sent = case
    result = parse_recipients(sent)
    assert result.accepted == tuple(dict.fromkeys(digits))
    assert result.rejected == ()
    assert result.duplicates_removed == len(digits) - len(set(digits))
    assert result.normalised == sum(s.strip() != d for s, d in zip(sent, digits, strict=True))


@given(noisy_lists())
def test_comma_string_matches_list(case: tuple[list[str], list[str]]) -> None:
    _, sent = case
    assert parse_recipients(",".join(sent)) == parse_recipients([s.strip() for s in sent])


_junk = st.one_of(
    valid_numbers,
    valid_numbers.map(lambda d: "+" + d),
    st.text("0123456789 +-().", max_size=18),
    st.text(max_size=18),
)


@given(st.lists(_junk, max_size=40))
def test_every_input_is_accounted_for(raw: list[str]) -> None:
    result = parse_recipients(raw)
    assert len(raw) == len(result.accepted) + len(result.rejected) + result.duplicates_removed
    assert len(set(result.accepted)) == len(result.accepted)
    for number in result.accepted:
        assert number.isascii() and number.isdigit() and 8 <= len(number) <= 15 and number[0] != "0"
    assert result.normalised <= len(result.accepted) + result.duplicates_removed
    assert all(r.to in raw and r.reason for r in result.rejected)


# --- size ------------------------------------------------------------------------------------


def test_hundred_thousand_numbers_parse() -> None:
    """How fast is the bench's (`api_100k_seconds`); here, that the whole list comes out right."""
    raw = [f"+27 82 {i:07d}" for i in range(50_000)] + [f"2783{i:07d}" for i in range(50_000)]
    result = parse_recipients(raw)
    assert len(result.accepted) == 100_000 and result.normalised == 50_000
