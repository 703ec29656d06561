"""Judge one `sendmsg` attempt: the single place that decides retry, failure, unknown or stop.

Reliability rules (design.md): a chunk is retried only when the attempt provably never reached
Clickatell; an attempt whose fate is unknown marks its numbers `unknown` and is never resent; an
account-level error stops the whole job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from bulksms.domain.answers import Accepted, Record, Rejected, parse_answer
from bulksms.domain.job import Stop
from bulksms.domain.status import RecipientStatus


class TransportFailure(StrEnum):
    CONNECT_REFUSED = "connection refused"
    CONNECT_TIMEOUT = "connect timeout"
    TLS = "TLS handshake failed"
    READ_TIMEOUT = "read timeout"
    RESET = "connection reset after the request was sent"
    PROTOCOL = "broken answer"


# Failures before the request could be sent: nothing reached Clickatell.
NOT_SENT_FAILURES = frozenset(
    {TransportFailure.CONNECT_REFUSED, TransportFailure.CONNECT_TIMEOUT, TransportFailure.TLS}
)
# Gateways answer these before forwarding; without ID/ERR lines nothing was processed.
RETRYABLE_HTTP_STATUSES = frozenset({429, 502, 503})
# Request-level ERR codes meaning the account cannot send at all: stop the job.
ACCOUNT_ERRORS = frozenset({"001", "002", "003", "004", "005", "007", "108", "130", "301", "302"})
# Request-level ERR codes about this request's parameters (reference sections 1 and 3): the request was
# refused as a whole, so its numbers fail with the code. The API refuses these early; one that still
# comes back fails only its chunk, the job goes on.
REQUEST_ERRORS = frozenset({"101", "102", "106", "107", "112", "113", "116", "120", "123"})
# Clickatell asks callers to retry an internal error; the request was rejected, so nothing went out.
RETRYABLE_ERRORS = frozenset({"901"})
# Codes that are about the whole request wherever they appear (once, or repeated per number).
WHOLE_REQUEST_ERRORS = ACCOUNT_ERRORS | REQUEST_ERRORS | RETRYABLE_ERRORS
NOT_SENT_CODE = "NOT_SENT"


class RecipientResult(NamedTuple):
    """One number's outcome. A tuple, not a dataclass: the send path makes one per number."""

    to: str
    status: RecipientStatus
    api_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    retry: bool
    reason: str
    results: tuple[RecipientResult, ...] = ()
    stop: Stop | None = None
    unparsed: tuple[str, ...] = field(default=())

    def counts(self) -> Counter[RecipientStatus]:
        return tally(self.results)


def tally(results: Iterable[RecipientResult]) -> Counter[RecipientStatus]:
    return Counter(result.status for result in results)


def results_for(
    numbers: Sequence[str], status: RecipientStatus, code: str | None, error: str
) -> tuple[RecipientResult, ...]:
    """The same outcome for every number of a chunk."""
    return tuple(RecipientResult(to, status, error_code=code, error=error) for to in numbers)


def retry(reason: str) -> Verdict:
    """The attempt provably never reached Clickatell: send the chunk again."""
    return Verdict(retry=True, reason=reason)


def ambiguous(
    numbers: Sequence[str], reason: str, unparsed: tuple[str, ...] = (), stop: Stop | None = None
) -> Verdict:
    """The attempt may have been processed: its numbers are `unknown`, never resent."""
    error = f"{reason}; Clickatell may have accepted it, so it is not resent automatically"
    return Verdict(False, reason, results_for(numbers, RecipientStatus.UNKNOWN, None, error), stop, unparsed)


def judge_transport_failure(numbers: Sequence[str], failure: TransportFailure) -> Verdict:
    if failure in NOT_SENT_FAILURES:
        return retry(failure.value)
    return ambiguous(numbers, failure.value)


def judge_answer(numbers: Sequence[str], http_status: int, body: str) -> Verdict:
    answer = parse_answer(body)
    if not answer.records:
        reason = f"HTTP {http_status} without an ID or ERR answer"
        if http_status in RETRYABLE_HTTP_STATUSES:
            return retry(reason)
        return ambiguous(numbers, reason, answer.unparsed)
    if answer.unparsed:
        # Reference section 9: a body we cannot fully account for says nothing reliable about any of
        # its numbers, not even those with an ID line.
        return ambiguous(
            numbers, "answer not fully accounted for", answer.unparsed, _account_stop(answer.records)
        )
    if whole := _whole_request_error(numbers, answer.records):
        return _judge_request_error(numbers, whole)
    if len(numbers) == 1 and len(answer.records) == 1:
        record = answer.records[0]
        if isinstance(record, Accepted) and record.to in (None, numbers[0]):
            return Verdict(
                False,
                "accepted",
                (RecipientResult(numbers[0], RecipientStatus.SUBMITTED, record.api_message_id),),
            )
    return _judge_per_number(numbers, answer.records)


def _whole_request_error(numbers: Sequence[str], records: Sequence[Record]) -> Rejected | None:
    """The one error of an answer that refused the request as a whole, else None.

    Clickatell answers a request-level error with one `ERR` line, or (reference sections 2 and 8.3)
    with the same line once per number, with or without `To:`. Identical lines without `To:` need no
    attribution, whatever their code; with `To:`, only a whole-request code means that one line speaks
    for every number.
    """
    first = records[0]
    if not isinstance(first, Rejected) or len(records) not in (1, len(numbers)):
        return None
    if any(not isinstance(r, Rejected) or r.code != first.code for r in records):
        return None
    tos = [r.to for r in records]
    if all(to is None for to in tos):
        return first
    wanted = set(numbers)
    attributed = all(to in wanted for to in tos) and len(set(tos)) == len(tos)
    return first if attributed and first.code in WHOLE_REQUEST_ERRORS else None


def _judge_request_error(numbers: Sequence[str], record: Rejected) -> Verdict:
    error = f"{record.code}, {record.description}".rstrip(", ")
    if record.code in RETRYABLE_ERRORS:
        return retry(f"ERR: {error}")
    stop = Stop.failed(record.code, record.description) if record.code in ACCOUNT_ERRORS else None
    return Verdict(
        False,
        f"ERR: {error}",
        results_for(numbers, RecipientStatus.FAILED, record.code, record.description),
        stop,
    )


def _account_stop(records: Iterable[Record]) -> Stop | None:
    """An account-level code anywhere in an answer stops the job, however the rest reads."""
    account = next((r for r in records if isinstance(r, Rejected) and r.code in ACCOUNT_ERRORS), None)
    return Stop.failed(account.code, account.description) if account else None


def _judge_per_number(numbers: Sequence[str], records: Sequence[Record]) -> Verdict:
    by_number: dict[str, RecipientResult] = {}
    wanted = set(numbers)
    stray: list[str] = []
    for record in records:
        if record.to is None or record.to not in wanted or record.to in by_number:
            # Never map by position or pick one of two answers: a record we cannot attribute makes
            # the body ambiguous.
            stray.append(_describe(record))
        elif isinstance(record, Accepted):
            by_number[record.to] = RecipientResult(
                record.to, RecipientStatus.SUBMITTED, record.api_message_id
            )
        else:
            by_number[record.to] = RecipientResult(
                record.to, RecipientStatus.FAILED, error_code=record.code, error=record.description
            )
    # Clickatell may report an account problem per number (`ERR: 301, No Credit Left To: n`): the
    # numbers before it went out, but the rest of the job would fail the same way.
    stop = _account_stop(records)
    if stray:
        return ambiguous(numbers, "answer not fully accounted for", tuple(stray), stop)
    missing_error = "missing from Clickatell's answer; it may have been accepted, so it is not resent"
    results = tuple(
        by_number.get(to) or RecipientResult(to, RecipientStatus.UNKNOWN, error=missing_error)
        for to in numbers
    )
    return Verdict(False, "answered", results, stop)


def _describe(record: Record) -> str:
    if isinstance(record, Accepted):
        return f"ID: {record.api_message_id}" + (f" To: {record.to}" if record.to else "")
    return f"ERR: {record.code}, {record.description}" + (f" To: {record.to}" if record.to else "")


def give_up(numbers: Sequence[str], last: Verdict, attempts: int) -> Verdict:
    """Retries exhausted on a provably-unsent chunk: its numbers fail with the last reason."""
    error = f"not sent after {attempts} attempts: {last.reason}"
    return Verdict(False, error, results_for(numbers, RecipientStatus.FAILED, NOT_SENT_CODE, error))
