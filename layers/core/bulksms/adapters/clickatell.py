"""Clickatell `sendmsg` (the legacy HTTP API) over one pooled keep-alive urllib3 PoolManager per container,
and the attempt-and-retry loop every Clickatell adapter shares."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cache
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from bulksms.domain.attempts import TransportFailure, Verdict, give_up, judge_answer, judge_transport_failure
from bulksms.domain.message import Credentials, Message, build_sendmsg_form
from bulksms.domain.optout import OPTED_OUT_ERROR
from bulksms.domain.retry import RetryPolicy
from bulksms.settings import settings

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
# The current POST limit of sendmsg (older accounts: 300, set with the ChunkSize parameter).
SENDMSG_MAX_NUMBERS = 600
# Only attempts that provably never reached Clickatell are tried again (urllib3's own retries are off:
# `retries=False` below, so nothing is stacked on this). Each client sets `attempts` from SEND_ATTEMPTS.
SEND_RETRY = RetryPolicy(attempts=4, base_s=0.25, cap_s=4.0)


@cache
def http_pool() -> urllib3.PoolManager:
    """The container's one PoolManager: a keep-alive connection per sender thread, no more."""
    config = settings()
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=config.sender_threads,
        block=True,
        timeout=urllib3.Timeout(connect=config.connect_timeout_s, read=config.read_timeout_s),
        # urllib3 must never resend a POST on its own: every retry decision is ours (domain.attempts).
        retries=False,
    )


def transport_failure(error: HTTPError) -> TransportFailure:
    """Map a urllib3 error onto what it tells us about whether the request went out."""
    if isinstance(error, NewConnectionError):  # before ConnectTimeoutError: it is a subclass
        return TransportFailure.CONNECT_REFUSED
    if isinstance(error, ConnectTimeoutError):
        return TransportFailure.CONNECT_TIMEOUT
    if isinstance(error, SSLError):
        # urllib3 raises SSLError while reading the answer too; only a failed handshake proves
        # that nothing was sent.
        return TransportFailure.TLS if _failed_handshake(error) else TransportFailure.PROTOCOL
    if isinstance(error, ReadTimeoutError):
        return TransportFailure.READ_TIMEOUT
    if isinstance(error, ProtocolError):
        return TransportFailure.RESET
    return TransportFailure.PROTOCOL


_HANDSHAKE_FAILURES = (
    "CERTIFICATE",
    "HANDSHAKE",
    "WRONG_VERSION_NUMBER",
    "UNSUPPORTED_PROTOCOL",
    "NO_PROTOCOLS_AVAILABLE",
    "ALERT",
)


def _failed_handshake(error: SSLError) -> bool:
    causes = [error, *error.args, error.__cause__, error.__context__]
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return True
    text = " ".join(str(cause) for cause in causes if cause is not None).upper()
    return any(marker in text for marker in _HANDSHAKE_FAILURES)


def post(
    http: urllib3.PoolManager,
    url: str,
    body: str | bytes,
    headers: Mapping[str, str],
    numbers: Sequence[str],
    judge: Callable[[int, bytes], Verdict],
) -> Verdict:
    """One attempt: a POST and the judgement of what came back (or of how it failed)."""
    try:
        response = http.request("POST", url, body=body, headers=dict(headers), retries=False)
    except HTTPError as error:
        return judge_transport_failure(numbers, transport_failure(error))
    return judge(response.status, response.data)


def send_with_retries(
    attempt: Callable[[], Verdict],
    numbers: Sequence[str],
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Repeat `attempt` only while it provably never reached Clickatell, at most `attempts` times."""
    policy = replace(SEND_RETRY, attempts=max(1, attempts))
    for tries in policy.tries(time.monotonic, sleep):  # noqa: B007 - give_up tells how many were made
        verdict = attempt()
        if not verdict.retry:
            return verdict
    return give_up(numbers, verdict, tries)


class ClickatellClient:
    """The legacy HTTP API (`/http/sendmsg`): a Provider."""

    max_numbers_per_request = SENDMSG_MAX_NUMBERS
    opted_out_error = OPTED_OUT_ERROR

    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], Credentials],
        *,
        attempts: int,
        http: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = base_url.rstrip("/") + "/http/sendmsg"
        self._credentials = credentials
        self._attempts = max(1, attempts)
        self._http = http or http_pool()
        self._sleep = sleep

    def refusal(self, message: Message) -> tuple[str, str] | None:
        return None  # every option of the public API is a sendmsg parameter

    def send(self, message: Message, numbers: Sequence[str], client_message_id: str) -> Verdict:
        """POST one chunk; retry only attempts that provably never reached Clickatell."""
        body = urlencode(build_sendmsg_form(message, numbers, self._credentials(), client_message_id))
        return send_with_retries(lambda: self._attempt(body, numbers), numbers, self._attempts, self._sleep)

    def _attempt(self, body: str, numbers: Sequence[str]) -> Verdict:
        return post(
            self._http,
            self._url,
            body,
            _FORM_HEADERS,
            numbers,
            lambda status, data: judge_answer(numbers, status, data.decode("utf-8", "replace")),
        )
