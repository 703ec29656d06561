"""`parse_answer`: every `sendmsg` answer shape the API doc (sections 2, 3, 9) and the simulator produce."""

from __future__ import annotations

import pytest
from bulksms.domain.answers import Accepted, Answer, Rejected, parse_answer
from hypothesis import given, settings
from hypothesis import strategies as st

from local.simulator.answers import ANSWER_STYLES, Record, format_answer
from local.simulator.rules import ERRORS

ID_A = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
ID_B = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
ID_C = "ffffffffffffffffffffffffffffffff"
N1, N2, N3 = "27999000001", "27999000002", "27999000003"


# --- single records ------------------------------------------------------------------------------


def test_single_bare_id() -> None:
    assert parse_answer(f"ID: {ID_A}") == Answer((Accepted(ID_A, None),), ())


def test_single_bare_id_with_trailing_newline() -> None:
    assert parse_answer(f"ID: {ID_A}\n") == Answer((Accepted(ID_A, None),), ())


def test_id_with_to() -> None:
    assert parse_answer(f"ID: {ID_A} To: {N1}\n") == Answer((Accepted(ID_A, N1),), ())


def test_id_without_space_after_colon_is_read() -> None:
    assert parse_answer(f"ID:{ID_A} To:{N1}").records == (Accepted(ID_A, N1),)


def test_request_level_err() -> None:
    assert parse_answer("ERR: 001, Authentication failed\n") == Answer(
        (Rejected("001", "Authentication failed", None),), ()
    )


def test_per_number_err() -> None:
    assert parse_answer(f"ERR: 105, Invalid destination address To: {N2}\n") == Answer(
        (Rejected("105", "Invalid destination address", N2),), ()
    )


def test_err_without_comma_or_description() -> None:
    assert parse_answer("ERR: 901") == Answer((Rejected("901", "", None),), ())
    assert parse_answer("ERR: 901\n") == Answer((Rejected("901", "", None),), ())


def test_err_without_comma_with_to() -> None:
    assert parse_answer(f"ERR: 105 To: {N1}\n") == Answer((Rejected("105", "", N1),), ())


def test_err_with_comma_and_empty_description() -> None:
    assert parse_answer("ERR: 105, ").records == (Rejected("105", "", None),)
    assert parse_answer("ERR: 105, \n").records == (Rejected("105", "", None),)


def test_err_with_empty_description_and_to() -> None:
    # What format_answer renders for Record.error("105", "", n): the To must stay a To.
    assert parse_answer(f"ERR: 105,  To: {N1}\n") == Answer((Rejected("105", "", N1),), ())


def test_err_with_empty_description_does_not_swallow_the_next_record_on_one_line() -> None:
    # One-line style: the ID record belongs to N1; it must not become the ERR's description and N1
    # must not be reported as rejected.
    body = f"ERR: 105,  ID: {ID_A} To: {N1}"
    assert parse_answer(body) == Answer((Rejected("105", "", None), Accepted(ID_A, N1)), ())


def test_err_code_is_zero_padded_to_three_digits() -> None:
    assert parse_answer("ERR: 1, Authentication failed").records == (
        Rejected("001", "Authentication failed", None),
    )


def test_description_with_digits_is_kept_whole() -> None:
    body = "ERR: 130, Maximum MT limit exceeded until 1700000000\n"
    assert parse_answer(body) == Answer(
        (Rejected("130", "Maximum MT limit exceeded until 1700000000", None),), ()
    )


def test_description_with_commas_and_digits_and_to() -> None:
    body = f"ERR: 130, Maximum MT limit exceeded, retry until 1700000000, sorry To: {N3}\n"
    assert parse_answer(body) == Answer(
        (Rejected("130", "Maximum MT limit exceeded, retry until 1700000000, sorry", N3),), ()
    )


def test_description_in_other_capitalisation_is_kept_verbatim() -> None:
    assert parse_answer("ERR: 301, No Credit Left").records == (Rejected("301", "No Credit Left", None),)


# --- several records ---------------------------------------------------------------------------

MULTI_RECORDS = (
    Accepted(ID_A, N1),
    Rejected("105", "Invalid destination address", N2),
    Accepted(ID_B, N3),
)
MULTI_LINES = [
    f"ID: {ID_A} To: {N1}",
    f"ERR: 105, Invalid destination address To: {N2}",
    f"ID: {ID_B} To: {N3}",
]


@pytest.mark.parametrize(
    "body",
    [
        "\n".join(MULTI_LINES),
        "\n".join(MULTI_LINES) + "\n",
        "\r\n".join(MULTI_LINES),
        "\r\n".join(MULTI_LINES) + "\r\n",
        " ".join(MULTI_LINES),
        " ".join(MULTI_LINES) + "\n",
        "\n\n" + "\n\n".join(MULTI_LINES) + "\n\n",
        "  " + "   ".join(MULTI_LINES) + "  ",
        "\t".join(MULTI_LINES),
    ],
    ids=[
        "lf",
        "lf-trailing",
        "crlf",
        "crlf-trailing",
        "one-line",
        "one-line-trailing",
        "blank-lines",
        "extra-spaces",
        "tabs",
    ],
)
def test_multi_records_in_every_layout(body: str) -> None:
    assert parse_answer(body) == Answer(MULTI_RECORDS, ())


def test_records_keep_answer_order() -> None:
    body = f"ID: {ID_B} To: {N3}\nID: {ID_A} To: {N1}\n"
    assert parse_answer(body).records == (Accepted(ID_B, N3), Accepted(ID_A, N1))


def test_request_level_err_followed_by_id_on_one_line() -> None:
    body = f"ERR: 001, Authentication failed ID: {ID_A} To: {N1}"
    assert parse_answer(body) == Answer(
        (Rejected("001", "Authentication failed", None), Accepted(ID_A, N1)), ()
    )


def test_crlf_does_not_leak_into_description() -> None:
    body = f"ERR: 128, Number delisted To: {N1}\r\nERR: 301, No credit left\r\n"
    assert parse_answer(body).records == (
        Rejected("128", "Number delisted", N1),
        Rejected("301", "No credit left", None),
    )


def test_has_records() -> None:
    assert parse_answer(f"ID: {ID_A}").has_records is True
    assert parse_answer("nothing here").has_records is False


# --- what is not a record ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "\n", "   ", "\r\n\r\n", "\t \n"])
def test_empty_body(body: str) -> None:
    assert parse_answer(body) == Answer((), ())


def test_html_error_page_is_unparsed() -> None:
    page = "<html><head><title>503 Service Unavailable</title></head><body><h1>503</h1></body></html>\n"
    assert parse_answer(page) == Answer((), (page.strip(),))


def test_multiline_html_page_yields_no_records() -> None:
    page = "<html>\n<body>\n<h1>502 Bad Gateway</h1>\n</body>\n</html>\n"
    answer = parse_answer(page)
    assert answer.records == ()
    assert answer.unparsed  # kept, not dropped
    assert "502 Bad Gateway" in " ".join(answer.unparsed)


def test_garbage_line_between_records_is_kept_not_guessed() -> None:
    body = f"ID: {ID_A} To: {N1}\nService temporarily degraded\nID: {ID_B} To: {N2}\n"
    assert parse_answer(body) == Answer(
        (Accepted(ID_A, N1), Accepted(ID_B, N2)), ("Service temporarily degraded",)
    )


def test_garbage_before_records_is_kept() -> None:
    body = f"OK\nID: {ID_A} To: {N1}\n"
    assert parse_answer(body) == Answer((Accepted(ID_A, N1),), ("OK",))


def test_id_followed_by_junk_on_its_line_is_not_a_record() -> None:
    # "ID: x junk" cannot be accounted for: it must not become Accepted(x).
    body = f"ID: {ID_A} junk\nID: {ID_B} To: {N2}\n"
    answer = parse_answer(body)
    assert answer.records == (Accepted(ID_B, N2),)
    assert answer.unparsed == (f"ID: {ID_A} junk",)


def test_id_with_non_numeric_to_is_not_a_record() -> None:
    answer = parse_answer(f"ID: {ID_A} To: +{N1}\n")
    assert answer.records == ()
    assert answer.unparsed == (f"ID: {ID_A} To: +{N1}",)


def test_id_with_characters_outside_the_id_alphabet_is_unparsed() -> None:
    answer = parse_answer("ID: abc-def\n")
    assert answer.records == ()
    assert answer.unparsed == ("ID: abc-def",)


@pytest.mark.parametrize("shape", ["0f1e2d3c", ID_A + "0", ID_A[:-1], "g" * 32, "42"])
def test_id_that_is_not_32_hex_is_unparsed(shape: str) -> None:
    answer = parse_answer(f"ID: {shape} To: {N1}\n")
    assert answer.records == ()
    assert answer.unparsed == (f"ID: {shape} To: {N1}",)


def test_err_without_numeric_code_is_unparsed() -> None:
    answer = parse_answer("ERR: Authentication failed\n")
    assert answer.records == ()
    assert answer.unparsed == ("ERR: Authentication failed",)


def test_other_commands_answers_are_not_sendmsg_records() -> None:
    answer = parse_answer("OK: 0123456789abcdef0123456789abcdef\nCredit: 12.5\n")
    assert answer.records == ()
    assert answer.unparsed == ("OK: 0123456789abcdef0123456789abcdef\nCredit: 12.5",)


def test_id_inside_words_does_not_start_a_record() -> None:
    # "RequestID:" is not "ID:"; the whole thing stays unparsed.
    answer = parse_answer("RequestID: 42 failed")
    assert answer.records == ()
    assert answer.unparsed == ("RequestID: 42 failed",)


# --- property: everything the simulator writes is read back exactly -----------------------------

_ids = st.from_regex(r"[0-9a-fA-F]{32}", fullmatch=True)
_numbers = st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True)
_codes = st.one_of(st.sampled_from(sorted(ERRORS)), st.from_regex(r"[0-9]{3}", fullmatch=True))
_free_text = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.'()-_/",
    min_size=0,
    max_size=60,
).map(str.strip)
_descriptions = st.one_of(
    st.sampled_from(sorted(ERRORS.values())),
    st.just("Maximum MT limit exceeded until 1700000000"),
    _free_text,
)
_records = st.one_of(
    st.builds(Record.accepted, _ids, st.none() | _numbers),
    st.builds(Record.error, _codes, _descriptions, st.none() | _numbers),
)


def _expected(record: Record) -> Accepted | Rejected:
    if record.key == "ID":
        return Accepted(record.value, record.to)
    return Rejected(record.value, record.description, record.to)


@settings(max_examples=400)
@given(
    records=st.lists(_records, max_size=12),
    style=st.sampled_from(ANSWER_STYLES),
    trailing_newline=st.booleans(),
)
def test_parses_exactly_what_the_simulator_formats(
    records: list[Record], style: str, trailing_newline: bool
) -> None:
    body = format_answer(records, style, trailing_newline)  # type: ignore[arg-type]
    answer = parse_answer(body)
    assert answer.unparsed == ()
    assert answer.records == tuple(_expected(r) for r in records)


_simulator_records = st.one_of(
    st.builds(Record.accepted, st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.none() | _numbers),
    st.builds(
        lambda code, to: Record.error(code, ERRORS[code], to),
        st.sampled_from(sorted(ERRORS)),
        st.none() | _numbers,
    ),
)


@given(
    records=st.lists(_simulator_records, max_size=12),
    style=st.sampled_from(ANSWER_STYLES),
    trailing_newline=st.booleans(),
)
def test_parses_exactly_what_the_running_simulator_sends(
    records: list[Record], style: str, trailing_newline: bool
) -> None:
    # The records the simulator's server actually emits: 32-hex ids and the rules.ERRORS texts.
    body = format_answer(records, style, trailing_newline)  # type: ignore[arg-type]
    assert parse_answer(body) == Answer(tuple(_expected(r) for r in records), ())


_records_with_descriptions = st.one_of(
    st.builds(Record.accepted, _ids, st.none() | _numbers),
    st.builds(Record.error, _codes, _descriptions.filter(bool), st.none() | _numbers),
)


@given(records=st.lists(_records_with_descriptions, min_size=1, max_size=8))
def test_crlf_rendering_of_simulator_records_parses_the_same(records: list[Record]) -> None:
    body = format_answer(records, "lines", True).replace("\n", "\r\n")
    assert parse_answer(body) == Answer(tuple(_expected(r) for r in records), ())


def test_format_answer_sample_matches_the_documented_wire_format() -> None:
    # Guards the property test above: it is only meaningful if format_answer writes the doc's format.
    body = format_answer([Record.accepted(ID_A, N1), ("ERR", "105", "Invalid destination address", N2)])
    assert body == f"ID: {ID_A} To: {N1}\nERR: 105, Invalid destination address To: {N2}\n"
    assert format_answer([Record.accepted(ID_A)], "one_line", False) == f"ID: {ID_A}"
