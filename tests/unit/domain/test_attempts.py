"""`judge_answer` / `judge_transport_failure` / `give_up`: one test per reliability rule (design.md)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from bulksms.domain.attempts import (
    ACCOUNT_ERRORS,
    NOT_SENT_CODE,
    NOT_SENT_FAILURES,
    REQUEST_ERRORS,
    RETRYABLE_ERRORS,
    RETRYABLE_HTTP_STATUSES,
    WHOLE_REQUEST_ERRORS,
    RecipientResult,
    TransportFailure,
    Verdict,
    give_up,
    judge_answer,
    judge_transport_failure,
    results_for,
    tally,
)
from bulksms.domain.job import Stop
from bulksms.domain.status import RecipientStatus
from hypothesis import given, settings
from hypothesis import strategies as st

S = RecipientStatus
N1, N2, N3, N4 = "27999000001", "27999000002", "27999000003", "27999000004"
NUMBERS = (N1, N2, N3)
IDS = {
    N1: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    N2: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    N3: "ffffffffffffffffffffffffffffff01",
    N4: "00000000000000000000000000000004",
}
HTML_503 = "<html><head><title>503 Service Unavailable</title></head><body><h1>503</h1></body></html>\n"


def by_to(verdict: Verdict) -> dict[str, RecipientResult]:
    return {r.to: r for r in verdict.results}


def statuses(verdict: Verdict) -> list[RecipientStatus]:
    return [r.status for r in verdict.results]


# --- code sets -----------------------------------------------------------------------------------


def test_code_sets() -> None:
    assert {429, 502, 503} == RETRYABLE_HTTP_STATUSES
    assert {"901"} == RETRYABLE_ERRORS
    assert {
        TransportFailure.CONNECT_REFUSED,
        TransportFailure.CONNECT_TIMEOUT,
        TransportFailure.TLS,
    } == NOT_SENT_FAILURES
    # API doc section 9: request-level account errors stop the job.
    assert {"001", "002", "003", "005", "007", "108", "301"} <= ACCOUNT_ERRORS
    assert {"106", "113", "123"} <= REQUEST_ERRORS
    assert not REQUEST_ERRORS & ACCOUNT_ERRORS  # a refused request fails its chunk, not the job
    # Per-number problems are never about the whole request.
    per_number = {"105", "114", "121", "122", "128"}
    assert not per_number & WHOLE_REQUEST_ERRORS
    assert not RETRYABLE_ERRORS & (ACCOUNT_ERRORS | REQUEST_ERRORS)


# --- 200 with ID lines ---------------------------------------------------------------------------


def test_all_ids_are_mapped_by_to_never_by_position() -> None:
    order = [N3, N1, N2]
    random.Random(7).shuffle(order)
    if order == list(NUMBERS):  # the point is a different order
        order.reverse()
    body = "".join(f"ID: {IDS[n]} To: {n}\n" for n in order)
    verdict = judge_answer(NUMBERS, 200, body)
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.unparsed == ()
    # results come back in the order of the numbers sent, each with its own id
    assert verdict.results == tuple(RecipientResult(n, S.SUBMITTED, IDS[n]) for n in NUMBERS)


def test_reversed_answer_is_still_mapped_by_to() -> None:
    body = f"ID: {IDS[N2]} To: {N2}\nID: {IDS[N1]} To: {N1}\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert by_to(verdict)[N1].api_message_id == IDS[N1]
    assert by_to(verdict)[N2].api_message_id == IDS[N2]


def test_one_line_answer_is_mapped_like_lines() -> None:
    body = f"ID: {IDS[N2]} To: {N2} ID: {IDS[N1]} To: {N1} ID: {IDS[N3]} To: {N3}"
    verdict = judge_answer(NUMBERS, 200, body)
    assert verdict.results == tuple(RecipientResult(n, S.SUBMITTED, IDS[n]) for n in NUMBERS)


def test_per_number_err_fails_that_number_only() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 105, Invalid destination address To: {N2}\nID: {IDS[N3]} To: {N3}\n"
    verdict = judge_answer(NUMBERS, 200, body)
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.results == (
        RecipientResult(N1, S.SUBMITTED, IDS[N1]),
        RecipientResult(N2, S.FAILED, None, "105", "Invalid destination address"),
        RecipientResult(N3, S.SUBMITTED, IDS[N3]),
    )


def test_per_number_account_code_fails_that_number_and_stops_the_job() -> None:
    # bellville shows "ERR: 301, No Credit Left To: n" per recipient: the numbers before it went out,
    # that one did not, and the rest of the job would fail the same way.
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 301, No Credit Left To: {N2}\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert verdict.stop == Stop.failed("301", "No Credit Left")
    assert by_to(verdict)[N1] == RecipientResult(N1, S.SUBMITTED, IDS[N1])
    assert by_to(verdict)[N2] == RecipientResult(N2, S.FAILED, None, "301", "No Credit Left")


def test_per_number_error_that_is_not_about_the_account_does_not_stop_the_job() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 128, Number delisted To: {N2}\n"
    assert judge_answer((N1, N2), 200, body).stop is None


def test_numbers_missing_from_the_answer_are_unknown() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\n"
    verdict = judge_answer(NUMBERS, 200, body)
    assert verdict.retry is False
    results = by_to(verdict)
    assert results[N1] == RecipientResult(N1, S.SUBMITTED, IDS[N1])
    for n in (N2, N3):
        assert results[n].status is S.UNKNOWN
        assert results[n].api_message_id is None
        assert results[n].error_code is None
        assert "missing" in (results[n].error or "")
    assert [r.to for r in verdict.results] == list(NUMBERS)


def assert_ambiguous(verdict: Verdict, numbers: tuple[str, ...]) -> None:
    """Every number `unknown`, without an id, never resent (reference section 9)."""
    assert verdict.retry is False
    assert [r.to for r in verdict.results] == list(numbers)
    assert statuses(verdict) == [S.UNKNOWN] * len(numbers)
    assert all(r.api_message_id is None and r.error_code is None for r in verdict.results)
    assert verdict.unparsed


def test_record_for_a_number_we_did_not_send_makes_the_answer_ambiguous() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nID: {IDS[N4]} To: {N4}\nID: {IDS[N2]} To: {N2}\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert_ambiguous(verdict, (N1, N2))
    assert verdict.unparsed == (f"ID: {IDS[N4]} To: {N4}",)


def test_two_records_for_one_number_make_the_answer_ambiguous() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 128, Number delisted To: {N1}\nID: {IDS[N2]} To: {N2}\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert_ambiguous(verdict, (N1, N2))
    assert verdict.unparsed == (f"ERR: 128, Number delisted To: {N1}",)


def test_garbage_line_makes_every_number_unknown() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nsomething odd\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert_ambiguous(verdict, (N1, N2))
    assert verdict.unparsed == ("something odd",)


def test_stray_word_before_a_bare_id_is_not_submitted() -> None:
    # The probe: one number, `OK ID: <id>`; the word cannot be accounted for.
    verdict = judge_answer((N1,), 200, f"OK ID: {IDS[N1]}\n")
    assert_ambiguous(verdict, (N1,))


@pytest.mark.parametrize("shape", ["0f1e2d3c", "0f1e2d3c4b5a69788796a5b4c3d2e1f0aa", "zz" * 16])
def test_id_of_another_shape_is_not_submitted(shape: str) -> None:
    assert_ambiguous(judge_answer((N1,), 200, f"ID: {shape}\n"), (N1,))
    body = f"ID: {shape} To: {N1}\nID: {IDS[N2]} To: {N2}\n"
    assert_ambiguous(judge_answer((N1, N2), 200, body), (N1, N2))


def test_account_error_in_an_ambiguous_answer_still_stops_the_job() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 301, No Credit Left To: {N2}\n<html>oops</html>\n"
    verdict = judge_answer(NUMBERS, 200, body)
    assert_ambiguous(verdict, NUMBERS)
    assert verdict.stop == Stop.failed("301", "No Credit Left")


def test_record_without_to_among_several_records_is_ambiguous_not_guessed() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nID: {IDS[N2]}\n"
    verdict = judge_answer((N1, N2), 200, body)
    assert_ambiguous(verdict, (N1, N2))  # never the positional guess
    assert verdict.unparsed == (f"ID: {IDS[N2]}",)


# --- bare ID -------------------------------------------------------------------------------------


def test_single_number_with_bare_id_is_submitted() -> None:
    verdict = judge_answer((N1,), 200, f"ID: {IDS[N1]}\n")
    assert verdict == Verdict(False, "accepted", (RecipientResult(N1, S.SUBMITTED, IDS[N1]),))


def test_single_number_with_id_and_matching_to_is_submitted() -> None:
    verdict = judge_answer((N1,), 200, f"ID: {IDS[N1]} To: {N1}")
    assert verdict.results == (RecipientResult(N1, S.SUBMITTED, IDS[N1]),)


def test_single_number_with_id_for_another_number_is_unknown() -> None:
    verdict = judge_answer((N1,), 200, f"ID: {IDS[N2]} To: {N2}")
    assert_ambiguous(verdict, (N1,))
    assert verdict.unparsed == (f"ID: {IDS[N2]} To: {N2}",)


def test_several_numbers_with_one_bare_id_are_all_unknown() -> None:
    verdict = judge_answer(NUMBERS, 200, f"ID: {IDS[N1]}\n")
    assert verdict.retry is False
    assert verdict.stop is None
    assert [r.to for r in verdict.results] == list(NUMBERS)
    assert statuses(verdict) == [S.UNKNOWN] * 3
    assert all(r.api_message_id is None for r in verdict.results)


# --- request-level ERR ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("001", "Authentication failed"),
        ("002", "Unknown username or password"),
        ("003", "Session ID expired"),
        ("005", "Missing session ID"),
        ("007", "IP Lockdown violation"),
        ("108", "Invalid or missing API ID"),
        ("301", "No credit left"),
    ],
)
def test_request_level_account_error_fails_all_and_stops(code: str, description: str) -> None:
    verdict = judge_answer(NUMBERS, 200, f"ERR: {code}, {description}\n")
    assert verdict.retry is False
    assert verdict.stop == Stop.failed(code, description)
    assert verdict.results == tuple(RecipientResult(n, S.FAILED, None, code, description) for n in NUMBERS)
    assert verdict.reason == f"ERR: {code}, {description}"


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("113", "Maximum message parts exceeded"),
        ("106", "Invalid source address"),
        ("123", "Invalid Sender ID"),
    ],
)
def test_request_level_message_error_fails_the_chunk_without_stopping(code: str, description: str) -> None:
    verdict = judge_answer(NUMBERS, 200, f"ERR: {code}, {description}")
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.results == tuple(RecipientResult(n, S.FAILED, None, code, description) for n in NUMBERS)


def _repeated(code: str, description: str, with_to: bool, numbers: tuple[str, ...] = NUMBERS) -> str:
    return "".join(f"ERR: {code}, {description}" + (f" To: {n}" if with_to else "") + "\n" for n in numbers)


@pytest.mark.parametrize("with_to", [False, True], ids=["without-To", "with-To"])
@pytest.mark.parametrize(
    ("code", "description", "stops"),
    [
        ("001", "Authentication failed", True),
        ("007", "IP Lockdown violation", True),
        ("301", "No credit left", True),
        ("106", "Invalid source address", False),
        ("113", "Maximum message parts exceeded", False),
    ],
)
def test_request_level_error_once_per_number_is_one_request_level_error(
    code: str, description: str, stops: bool, with_to: bool
) -> None:
    # S1 shows the request's ERR repeated for every number; it is one error, not one per position.
    verdict = judge_answer(NUMBERS, 200, _repeated(code, description, with_to))
    assert verdict.retry is False
    assert verdict.unparsed == ()
    assert verdict.results == tuple(RecipientResult(n, S.FAILED, None, code, description) for n in NUMBERS)
    assert verdict.stop == (Stop.failed(code, description) if stops else None)


@pytest.mark.parametrize("code", ["001", "106"])
def test_request_level_error_once_with_to_speaks_for_the_whole_chunk(code: str) -> None:
    verdict = judge_answer(NUMBERS, 200, f"ERR: {code}, Refused To: {N2}\n")
    assert statuses(verdict) == [S.FAILED] * 3
    assert {r.error_code for r in verdict.results} == {code}
    assert (verdict.stop is not None) is (code in ACCOUNT_ERRORS)


def test_per_number_code_once_with_to_concerns_that_number_only() -> None:
    verdict = judge_answer(NUMBERS, 200, f"ERR: 105, Invalid destination address To: {N2}\n")
    assert by_to(verdict)[N2].status is S.FAILED
    assert by_to(verdict)[N1].status is by_to(verdict)[N3].status is S.UNKNOWN
    assert verdict.stop is None


def test_identical_per_number_errs_without_to_fail_every_number() -> None:
    verdict = judge_answer(NUMBERS, 200, _repeated("105", "Invalid destination address", False))
    assert verdict.results == tuple(
        RecipientResult(n, S.FAILED, None, "105", "Invalid destination address") for n in NUMBERS
    )


def test_repeated_err_of_another_count_is_ambiguous() -> None:
    body = _repeated("106", "Invalid source address", False, (N1, N2))  # two lines for three numbers
    verdict = judge_answer(NUMBERS, 200, body)
    assert_ambiguous(verdict, NUMBERS)
    assert verdict.stop is None


def test_repeated_account_err_of_another_count_is_ambiguous_and_stops() -> None:
    verdict = judge_answer(NUMBERS, 200, _repeated("001", "Authentication failed", False, (N1, N2)))
    assert_ambiguous(verdict, NUMBERS)
    assert verdict.stop == Stop.failed("001", "Authentication failed")


def test_err_901_once_per_number_is_retried() -> None:
    assert judge_answer(NUMBERS, 200, _repeated("901", "Internal error", False)).retry is True
    assert judge_answer(NUMBERS, 200, _repeated("901", "Internal error", True)).retry is True


def test_single_number_bare_err_105_fails_without_stop() -> None:
    verdict = judge_answer((N1,), 200, "ERR: 105, Invalid destination address\n")
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.results == (RecipientResult(N1, S.FAILED, None, "105", "Invalid destination address"),)


def test_unknown_code_without_to_on_several_numbers_fails_without_stop() -> None:
    verdict = judge_answer(NUMBERS, 200, "ERR: 999, Something new\n")
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.results == tuple(
        RecipientResult(n, S.FAILED, None, "999", "Something new") for n in NUMBERS
    )


def test_err_without_description_reason_has_no_trailing_comma() -> None:
    verdict = judge_answer(NUMBERS, 200, "ERR: 001")
    assert verdict.reason == "ERR: 001"
    assert verdict.stop == Stop.failed("001", "")
    assert all(r.error_code == "001" and r.error == "" for r in verdict.results)


def test_err_901_is_retried() -> None:
    verdict = judge_answer(NUMBERS, 200, "ERR: 901, Internal error\n")
    assert verdict.retry is True
    assert verdict.results == ()
    assert verdict.stop is None
    assert "901" in verdict.reason


def test_err_901_without_description_is_retried() -> None:
    assert judge_answer((N1,), 200, "ERR: 901").retry is True


# --- HTTP status without records -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503])
@pytest.mark.parametrize("body", [HTML_503, "", "Too Many Requests", "\n"])
def test_gateway_statuses_without_records_are_retried(status: int, body: str) -> None:
    verdict = judge_answer(NUMBERS, status, body)
    assert verdict.retry is True
    assert verdict.results == ()
    assert verdict.stop is None
    assert verdict.reason == f"HTTP {status} without an ID or ERR answer"


def test_503_with_id_lines_is_answered_not_retried() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nID: {IDS[N2]} To: {N2}\nID: {IDS[N3]} To: {N3}\n"
    verdict = judge_answer(NUMBERS, 503, body)
    assert verdict.retry is False
    assert verdict.results == tuple(RecipientResult(n, S.SUBMITTED, IDS[n]) for n in NUMBERS)


def test_429_with_err_line_is_answered_not_retried() -> None:
    verdict = judge_answer(NUMBERS, 429, "ERR: 001, Authentication failed")
    assert verdict.retry is False
    assert verdict.stop == Stop.failed("001", "Authentication failed")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, "<html><body>500 Internal Server Error</body></html>"),
        (504, "<html><head><title>504 Gateway Time-out</title></head></html>\n"),
        (504, ""),
        (200, "Service temporarily unavailable, try later"),
        (200, ""),
        (200, "OK"),
        (403, "Forbidden"),
    ],
)
def test_other_answers_without_records_make_every_number_unknown(status: int, body: str) -> None:
    verdict = judge_answer(NUMBERS, status, body)
    assert verdict.retry is False
    assert verdict.stop is None
    assert [r.to for r in verdict.results] == list(NUMBERS)
    assert statuses(verdict) == [S.UNKNOWN] * 3
    assert all(r.error_code is None and f"HTTP {status}" in (r.error or "") for r in verdict.results)
    assert verdict.unparsed == ((body.strip(),) if body.strip() else ())


# --- transport failures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [TransportFailure.CONNECT_REFUSED, TransportFailure.CONNECT_TIMEOUT, TransportFailure.TLS]
)
def test_failures_before_sending_are_retried(failure: TransportFailure) -> None:
    verdict = judge_transport_failure(NUMBERS, failure)
    assert verdict == Verdict(retry=True, reason=failure.value)


@pytest.mark.parametrize(
    "failure", [TransportFailure.READ_TIMEOUT, TransportFailure.RESET, TransportFailure.PROTOCOL]
)
def test_failures_after_sending_make_every_number_unknown(failure: TransportFailure) -> None:
    verdict = judge_transport_failure(NUMBERS, failure)
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.reason == failure.value
    assert [r.to for r in verdict.results] == list(NUMBERS)
    assert statuses(verdict) == [S.UNKNOWN] * 3
    assert all(r.error is not None and r.error.startswith(failure.value) for r in verdict.results)
    assert all(r.api_message_id is None and r.error_code is None for r in verdict.results)


# --- give_up, results_for, tally -----------------------------------------------------------------


def test_give_up_fails_every_number_with_not_sent_and_the_reason() -> None:
    last = judge_transport_failure(NUMBERS, TransportFailure.CONNECT_REFUSED)
    verdict = give_up(NUMBERS, last, 4)
    assert verdict.retry is False
    assert verdict.stop is None
    assert verdict.reason == "not sent after 4 attempts: connection refused"
    assert verdict.results == tuple(
        RecipientResult(n, S.FAILED, None, NOT_SENT_CODE, "not sent after 4 attempts: connection refused")
        for n in NUMBERS
    )
    assert NOT_SENT_CODE == "NOT_SENT"


def test_give_up_after_http_503_carries_the_http_reason() -> None:
    verdict = give_up((N1,), judge_answer((N1,), 503, HTML_503), 2)
    assert verdict.results[0].error == "not sent after 2 attempts: HTTP 503 without an ID or ERR answer"


def test_results_for() -> None:
    assert results_for((N1, N2), S.FAILED, "301", "No credit left") == (
        RecipientResult(N1, S.FAILED, None, "301", "No credit left"),
        RecipientResult(N2, S.FAILED, None, "301", "No credit left"),
    )
    assert results_for((), S.UNKNOWN, None, "x") == ()


def test_tally_counts_statuses() -> None:
    results = [
        RecipientResult(N1, S.SUBMITTED, "a"),
        RecipientResult(N2, S.FAILED, error_code="105"),
        RecipientResult(N3, S.SUBMITTED, "b"),
        RecipientResult(N4, S.UNKNOWN),
    ]
    assert tally(results) == Counter({S.SUBMITTED: 2, S.FAILED: 1, S.UNKNOWN: 1})
    assert tally([]) == Counter()


def test_verdict_counts_uses_its_results() -> None:
    body = f"ID: {IDS[N1]} To: {N1}\nERR: 105, Invalid destination address To: {N2}\n"
    verdict = judge_answer(NUMBERS, 200, body)
    assert verdict.counts() == Counter({S.SUBMITTED: 1, S.FAILED: 1, S.UNKNOWN: 1})


def test_every_number_gets_exactly_one_result() -> None:
    numbers = tuple(f"2799900{i:04d}" for i in range(600))
    lines = [f"ID: {i:032x} To: {n}" for i, n in enumerate(numbers) if i % 3 == 0]
    lines += [f"ERR: 128, Number delisted To: {n}" for i, n in enumerate(numbers) if i % 3 == 1]
    random.Random(1).shuffle(lines)
    verdict = judge_answer(numbers, 200, "\n".join(lines) + "\n")
    assert [r.to for r in verdict.results] == list(numbers)
    assert verdict.counts() == Counter({S.SUBMITTED: 200, S.FAILED: 200, S.UNKNOWN: 200})
    for i, n in enumerate(numbers):
        result = by_to(verdict)[n]
        if i % 3 == 0:
            assert result.api_message_id == f"{i:032x}"


# --- property: generated answers, with and without injected noise -----------------------------------

_PER_NUMBER_CODES = ("105", "114", "121", "122", "128")
_number_lists = st.lists(st.from_regex(r"27[0-9]{9}", fullmatch=True), min_size=1, max_size=8, unique=True)
_hex_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
# Per number: an ID, a per-number ERR, Clickatell's per-number no-credit ERR, or no record at all.
_outcomes = st.one_of(
    st.tuples(st.just("ID"), _hex_ids),
    st.tuples(st.just("ERR"), st.sampled_from(_PER_NUMBER_CODES)),
    st.tuples(st.just("ERR"), st.just("301")),
    st.tuples(st.just("missing"), st.just("")),
)
_words = st.from_regex(r"[a-z]{1,10}", fullmatch=True)


def _noise(draw: st.DrawFn, lines: list[str], numbers: list[str]) -> list[str]:
    """One piece of text Clickatell's answer format cannot account for, somewhere in `lines`."""
    kind = draw(st.sampled_from(["junk_line", "prefix", "suffix", "bad_id", "foreign", "duplicate", "html"]))
    at = draw(st.integers(0, len(lines)))
    word = draw(_words)
    if kind == "junk_line" or (not lines and kind in ("prefix", "suffix", "duplicate")):
        return [*lines[:at], word, *lines[at:]]
    if kind == "prefix":
        at = min(at, len(lines) - 1)
        return [*lines[:at], f"{word} {lines[at]}", *lines[at + 1 :]]
    if kind == "suffix":  # after To: or an ID nothing may follow on the line
        candidates = [i for i, line in enumerate(lines) if " To: " in line or line.startswith("ID:")]
        if not candidates:
            return [*lines, word]
        i = draw(st.sampled_from(candidates))
        return [*lines[:i], f"{lines[i]} {word}", *lines[i + 1 :]]
    if kind == "bad_id":
        shape = draw(st.from_regex(r"[0-9a-f]{1,31}|[0-9a-f]{33,40}|[0-9a-z]{32}", fullmatch=True))
        return [*lines[:at], f"ID: {shape} To: {draw(st.sampled_from(numbers))}", *lines[at:]]
    if kind == "foreign":
        return [
            *lines[:at],
            f"ID: {draw(_hex_ids)} To: 1999{draw(st.integers(1000000, 9999999))}",
            *lines[at:],
        ]
    if kind == "duplicate":
        # A request-level line repeated is a shape Clickatell sends (once per number): not noise.
        per_number = [line for line in lines if " To: " in line]
        if not per_number:
            return [*lines[:at], word, *lines[at:]]
        return [*lines[:at], draw(st.sampled_from(per_number)), *lines[at:]]
    return ["<html><body>502 Bad Gateway</body></html>", *lines]


@st.composite
def _answers(draw: st.DrawFn) -> tuple[list[str], str, dict[str, tuple[str, str]], bool]:
    numbers = draw(_number_lists)
    if draw(st.booleans()):
        # A request-level ERR: once, or once per number; with or without To:.
        code = draw(st.sampled_from(sorted(ACCOUNT_ERRORS | REQUEST_ERRORS)))
        with_to = draw(st.booleans())
        repeat = numbers if draw(st.booleans()) else numbers[:1]
        lines = [f"ERR: {code}, Refused" + (f" To: {n}" if with_to else "") for n in repeat]
        expected = {n: ("ERR", code) for n in numbers}
    else:
        expected = {n: draw(_outcomes) for n in numbers}
        lines = [
            f"ID: {value} To: {n}" if kind == "ID" else f"ERR: {value}, Refused To: {n}"
            for n, (kind, value) in expected.items()
            if kind != "missing"
        ]
        if len(lines) == 1 and lines[0].startswith("ERR: 301"):
            expected = {n: ("ERR", "301") for n in numbers}  # one whole-request line speaks for all
        lines = draw(st.permutations(lines))
    noisy = draw(st.booleans())
    if noisy:
        lines = _noise(draw, list(lines), numbers)
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    body = ending.join(lines) + draw(st.sampled_from(["", ending]))
    return numbers, body, expected, noisy


@settings(max_examples=300)
@given(case=_answers())
def test_generated_answers_with_injected_noise(
    case: tuple[list[str], str, dict[str, tuple[str, str]], bool],
) -> None:
    numbers, body, expected, noisy = case
    verdict = judge_answer(numbers, 200, body)
    assert verdict.retry is False
    assert [r.to for r in verdict.results] == numbers  # exactly one result per number, in order
    codes = {value for kind, value in expected.values() if kind == "ERR"}
    account = codes & ACCOUNT_ERRORS
    if noisy:
        # Not fully accounted for: nothing submitted, nothing failed on a guess, nothing resent; an
        # account error the noise left readable still stops the job.
        assert statuses(verdict) == [S.UNKNOWN] * len(numbers), body
        assert verdict.unparsed, body
        assert verdict.stop is None or verdict.stop.code in account, body
        return
    assert (verdict.stop is not None) is bool(account), (body, verdict.stop)
    assert verdict.unparsed == ()
    for result in verdict.results:
        kind, value = expected[result.to]
        if kind == "ID":
            assert result == RecipientResult(result.to, S.SUBMITTED, value)
        elif kind == "ERR":
            assert (result.status, result.error_code) == (S.FAILED, value)
        else:
            assert result.status is S.UNKNOWN and result.api_message_id is None
