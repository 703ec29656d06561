"""The Clickatell adapter: urllib3 error mapping, backoff, and the `send` retry loop on loopback sockets.

The loopback server counts every POST it receives, so "sent once" / "never resent" is checked where it
matters: on the wire.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from bulksms.adapters.clickatell import SEND_RETRY, ClickatellClient, transport_failure
from bulksms.domain.attempts import NOT_SENT_CODE, RecipientResult, TransportFailure
from bulksms.domain.message import Credentials, Encoding, Message
from bulksms.domain.status import RecipientStatus
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from local.tls import make_certificate, server_context

S = RecipientStatus
CREDS = Credentials(user="acme", password="s3cr3t", api_id="3456789")
MESSAGE = Message(Encoding.GSM7, "Your code is 1234", 1)
N1, N2, N3 = "27999000001", "27999000002", "27999000003"
NUMBERS = (N1, N2, N3)
IDS = {
    N1: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    N2: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    N3: "ffffffffffffffffffffffffffffff01",
}
ALL_IDS = "".join(f"ID: {IDS[n]} To: {n}\n" for n in NUMBERS)
READ_TIMEOUT_S = 0.3
NO_CONN: Any = None  # urllib3 errors built without a live connection or pool


# --- transport_failure ---------------------------------------------------------------------------


def test_new_connection_error_is_connect_refused() -> None:
    error = NewConnectionError(
        NO_CONN, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    assert transport_failure(error) is TransportFailure.CONNECT_REFUSED


def test_name_resolution_error_counts_as_not_connected() -> None:
    error = NameResolutionError(
        "api.clickatell.invalid", NO_CONN, socket.gaierror(-2, "Name or service not known")
    )
    assert transport_failure(error) is TransportFailure.CONNECT_REFUSED


def test_connect_timeout() -> None:
    assert transport_failure(ConnectTimeoutError(None, "timed out")) is TransportFailure.CONNECT_TIMEOUT


def test_ssl_error() -> None:
    assert transport_failure(SSLError("certificate verify failed")) is TransportFailure.TLS


def test_read_timeout() -> None:
    error = ReadTimeoutError(NO_CONN, "https://api.clickatell.com/http/sendmsg", "Read timed out.")
    assert transport_failure(error) is TransportFailure.READ_TIMEOUT


def test_protocol_error_is_reset() -> None:
    error = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    assert transport_failure(error) is TransportFailure.RESET


def test_generic_http_error_is_a_broken_answer() -> None:
    assert transport_failure(HTTPError("something else")) is TransportFailure.PROTOCOL


# --- a loopback Clickatell -----------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class Loopback:
    """Serves one scripted action per POST; the last action repeats."""

    server: ThreadingHTTPServer
    actions: list[tuple[Any, ...]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    scheme: str = "http"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}/"

    @property
    def posts(self) -> int:
        with self.lock:
            return len(self.seen)

    def next_action(self, seen: Seen) -> tuple[Any, ...]:
        with self.lock:
            self.seen.append(seen)
            index = min(len(self.seen), len(self.actions)) - 1
            return self.actions[index]


def _handler(loop: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            seen = Seen(
                self.path, dict(self.headers.items()), urllib.parse.parse_qs(body, keep_blank_values=True)
            )
            action = loop.next_action(seen)
            kind = action[0]
            if kind == "answer":
                _, status, text = action
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            elif kind == "stall":  # never answer within the client's read timeout
                loop.release.wait(action[1])
                self.close_connection = True
            elif kind == "close":  # request read, connection closed without a byte of answer
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "reset":  # request read, then a TCP RST
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif kind == "tls_garbage":  # request read over TLS, then a corrupt TLS record
                self.close_connection = True
                os.write(self.connection.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
                loop.release.wait(2)
            else:  # pragma: no cover
                raise AssertionError(kind)

    return Handler


def _start(actions: list[tuple[Any, ...]], tls: ssl.SSLContext | None = None) -> Loopback:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]  # failed handshakes
    loop = Loopback(server, list(actions))
    server.RequestHandlerClass = _handler(loop)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        loop.scheme = "https"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return loop


@pytest.fixture
def loopback() -> Iterator[Callable[..., Loopback]]:
    started: list[Loopback] = []

    def start(*actions: tuple[Any, ...], tls: ssl.SSLContext | None = None) -> Loopback:
        loop = _start(list(actions), tls)
        started.append(loop)
        return loop

    yield start
    for loop in started:
        loop.release.set()
        loop.server.shutdown()
        loop.server.server_close()


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    manager = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=READ_TIMEOUT_S), retries=False)
    yield manager
    manager.clear()


def client(
    url: str, http: urllib3.PoolManager, attempts: int, sleeps: list[float] | None = None
) -> ClickatellClient:
    sink = sleeps if sleeps is not None else []
    return ClickatellClient(url, lambda: CREDS, attempts=attempts, http=http, sleep=sink.append)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A bound port nobody listens on: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


# --- send over loopback --------------------------------------------------------------------------


def test_success_posts_the_form_once(loopback: Callable[..., Loopback], pool: urllib3.PoolManager) -> None:
    loop = loopback(("answer", 200, ALL_IDS))
    sleeps: list[float] = []
    verdict = client(loop.url, pool, attempts=4, sleeps=sleeps).send(MESSAGE, NUMBERS, "job42c0")
    assert verdict.retry is False
    assert verdict.results == tuple(RecipientResult(n, S.SUBMITTED, IDS[n]) for n in NUMBERS)
    assert loop.posts == 1
    assert sleeps == []
    seen = loop.seen[0]
    assert seen.path == "/http/sendmsg"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "api_id": ["3456789"],
        "user": ["acme"],
        "password": ["s3cr3t"],
        "to": [",".join(NUMBERS)],
        "climsgid": ["job42c0"],
        "text": ["Your code is 1234"],
    }


def test_unicode_and_special_characters_survive_form_encoding(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", 200, f"ID: {IDS[N1]}"))
    message = Message(Encoding.GSM7, "a&b=c +100% ü€", 1)
    verdict = client(loop.url, pool, attempts=1).send(message, (N1,), "c1")
    assert verdict.results == (RecipientResult(N1, S.SUBMITTED, IDS[N1]),)
    assert loop.seen[0].form["text"] == ["a&b=c +100% ü€"]


def test_connection_refused_is_retried_then_every_number_fails_not_sent(
    closed_port: int, pool: urllib3.PoolManager
) -> None:
    sleeps: list[float] = []
    verdict = client(f"http://127.0.0.1:{closed_port}", pool, attempts=3, sleeps=sleeps).send(
        MESSAGE, NUMBERS, "c1"
    )
    assert verdict.retry is False
    assert verdict.stop is None
    assert [r.to for r in verdict.results] == list(NUMBERS)
    assert all(r.status is S.FAILED and r.error_code == NOT_SENT_CODE for r in verdict.results)
    assert verdict.results[0].error == "not sent after 3 attempts: connection refused"
    assert len(sleeps) == 2  # between the three attempts, none after the last
    assert 0.0 <= sleeps[0] <= 0.25 and 0.0 <= sleeps[1] <= 0.5


def test_single_attempt_setting_means_no_retry(closed_port: int, pool: urllib3.PoolManager) -> None:
    sleeps: list[float] = []
    verdict = client(f"http://127.0.0.1:{closed_port}", pool, attempts=1, sleeps=sleeps).send(
        MESSAGE, (N1,), "c1"
    )
    assert verdict.results[0].error == "not sent after 1 attempts: connection refused"
    assert sleeps == []


def test_zero_attempts_still_tries_once(loopback: Callable[..., Loopback], pool: urllib3.PoolManager) -> None:
    loop = loopback(("answer", 200, f"ID: {IDS[N1]}"))
    verdict = client(loop.url, pool, attempts=0).send(MESSAGE, (N1,), "c1")
    assert verdict.results[0].status is S.SUBMITTED
    assert loop.posts == 1


def test_503_twice_then_200_succeeds_after_three_posts(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    html = "<html><body><h1>503 Service Unavailable</h1></body></html>\n"
    loop = loopback(("answer", 503, html), ("answer", 503, html), ("answer", 200, ALL_IDS))
    sleeps: list[float] = []
    verdict = client(loop.url, pool, attempts=4, sleeps=sleeps).send(MESSAGE, NUMBERS, "c1")
    assert verdict.retry is False
    assert verdict.results == tuple(RecipientResult(n, S.SUBMITTED, IDS[n]) for n in NUMBERS)
    assert loop.posts == 3
    assert len(sleeps) == 2
    # the very same form every time
    assert loop.seen[0].form == loop.seen[1].form == loop.seen[2].form


def test_503_every_time_gives_up_after_the_attempt_limit(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", 503, ""))
    verdict = client(loop.url, pool, attempts=2).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 2
    assert all(r.status is S.FAILED and r.error_code == NOT_SENT_CODE for r in verdict.results)
    assert verdict.results[0].error == "not sent after 2 attempts: HTTP 503 without an ID or ERR answer"


@pytest.mark.parametrize("status", [429, 502])
def test_other_gateway_statuses_are_retried(
    status: int, loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", status, "busy"), ("answer", 200, ALL_IDS))
    verdict = client(loop.url, pool, attempts=3).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 2
    assert verdict.counts() == {S.SUBMITTED: 3}


def test_err_901_is_retried_on_the_wire(loopback: Callable[..., Loopback], pool: urllib3.PoolManager) -> None:
    loop = loopback(("answer", 200, "ERR: 901, Internal error\n"), ("answer", 200, ALL_IDS))
    verdict = client(loop.url, pool, attempts=3).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 2
    assert verdict.counts() == {S.SUBMITTED: 3}


def test_read_timeout_is_unknown_after_exactly_one_post(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("stall", 5.0))
    sleeps: list[float] = []
    verdict = client(loop.url, pool, attempts=5, sleeps=sleeps).send(MESSAGE, NUMBERS, "c1")
    assert verdict.retry is False
    assert verdict.reason == TransportFailure.READ_TIMEOUT.value
    assert all(r.status is S.UNKNOWN for r in verdict.results)
    assert [r.to for r in verdict.results] == list(NUMBERS)
    assert loop.posts == 1
    assert sleeps == []


@pytest.mark.parametrize("action", ["close", "reset"])
def test_connection_dropped_after_the_request_is_unknown_after_one_post(
    action: str, loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback((action,), ("answer", 200, ALL_IDS))
    verdict = client(loop.url, pool, attempts=5).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 1
    assert verdict.retry is False
    assert verdict.reason == TransportFailure.RESET.value
    assert all(r.status is S.UNKNOWN for r in verdict.results)


@pytest.mark.parametrize("status", [500, 504])
def test_server_errors_without_records_are_unknown_after_one_post(
    status: int, loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", status, "<html>error</html>"), ("answer", 200, ALL_IDS))
    verdict = client(loop.url, pool, attempts=5).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 1
    assert all(r.status is S.UNKNOWN for r in verdict.results)


def test_account_error_stops_after_one_post(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", 200, "ERR: 001, Authentication failed\n"))
    verdict = client(loop.url, pool, attempts=5).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 1
    assert verdict.stop is not None and verdict.stop.code == "001"
    assert all(r.status is S.FAILED and r.error_code == "001" for r in verdict.results)


def test_mixed_answer_over_the_wire(loopback: Callable[..., Loopback], pool: urllib3.PoolManager) -> None:
    body = f"ERR: 105, Invalid destination address To: {N3}\r\nID: {IDS[N1]} To: {N1}\r\n"
    loop = loopback(("answer", 200, body))
    verdict = client(loop.url, pool, attempts=3).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 1
    assert verdict.results == (
        RecipientResult(N1, S.SUBMITTED, IDS[N1]),
        RecipientResult(N2, S.UNKNOWN, error=verdict.results[1].error),
        RecipientResult(N3, S.FAILED, None, "105", "Invalid destination address"),
    )
    assert verdict.results[1].status is S.UNKNOWN


def test_credentials_are_read_for_each_send(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    loop = loopback(("answer", 200, f"ID: {IDS[N1]}"))
    rotated = iter([CREDS, Credentials("acme", "rotated", "3456789")])
    sender = ClickatellClient(loop.url, lambda: next(rotated), attempts=1, http=pool, sleep=lambda s: None)
    sender.send(MESSAGE, (N1,), "c1")
    sender.send(MESSAGE, (N1,), "c2")
    assert [s.form["password"] for s in loop.seen] == [["s3cr3t"], ["rotated"]]


# --- stubbed transport: failures a loopback cannot produce reliably -------------------------------


class StubHttp:
    def __init__(self, *outcomes: BaseException | tuple[int, bytes]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls.append({"method": method, "url": url, **kwargs})
        outcome = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        status, data = outcome
        return type("Response", (), {"status": status, "data": data})()


def stub_client(http: StubHttp, attempts: int, sleeps: list[float] | None = None) -> ClickatellClient:
    sink = sleeps if sleeps is not None else []
    return ClickatellClient(
        "https://api.example.test/",
        lambda: CREDS,
        attempts=attempts,
        http=http,  # type: ignore[arg-type]
        sleep=sink.append,
    )


def test_stub_request_shape() -> None:
    http = StubHttp((200, f"ID: {IDS[N1]}".encode()))
    stub_client(http, 1).send(MESSAGE, (N1,), "c1")
    (call,) = http.calls
    assert call["method"] == "POST"
    assert call["url"] == "https://api.example.test/http/sendmsg"
    assert call["retries"] is False  # urllib3 must never resend a POST on its own
    assert call["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert urllib.parse.parse_qs(call["body"])["to"] == [N1]


def test_non_utf8_answer_does_not_crash() -> None:
    http = StubHttp((200, b"\xff\xfe garbage"), (200, f"ID: {IDS[N1]}".encode()))
    verdict = stub_client(http, 3).send(MESSAGE, (N1,), "c1")
    assert len(http.calls) == 1
    assert [r.status for r in verdict.results] == [S.UNKNOWN]


def test_non_utf8_bytes_around_records_make_the_answer_ambiguous() -> None:
    http = StubHttp((200, f"ID: {IDS[N1]} To: {N1}\n\xff\n".encode("latin-1")))
    verdict = stub_client(http, 3).send(MESSAGE, (N1, N2), "c1")
    assert len(http.calls) == 1  # decoded without a crash, and never resent
    assert [r.status for r in verdict.results] == [S.UNKNOWN, S.UNKNOWN]
    assert verdict.unparsed == ("\ufffd",)


def test_connect_timeout_then_success() -> None:
    http = StubHttp(ConnectTimeoutError(None, "timed out"), (200, ALL_IDS.encode()))
    sleeps: list[float] = []
    verdict = stub_client(http, 3, sleeps).send(MESSAGE, NUMBERS, "c1")
    assert len(http.calls) == 2
    assert len(sleeps) == 1
    assert verdict.counts() == {S.SUBMITTED: 3}


def test_tls_failures_are_retried_then_not_sent() -> None:
    http = StubHttp(SSLError("handshake failure"))
    verdict = stub_client(http, 4).send(MESSAGE, NUMBERS, "c1")
    assert len(http.calls) == 4
    assert all(r.error_code == NOT_SENT_CODE for r in verdict.results)
    assert verdict.results[0].error == f"not sent after 4 attempts: {TransportFailure.TLS.value}"


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (ReadTimeoutError(NO_CONN, "/http/sendmsg", "Read timed out."), TransportFailure.READ_TIMEOUT),
        (ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")), TransportFailure.RESET),
        (HTTPError("odd"), TransportFailure.PROTOCOL),
    ],
)
def test_ambiguous_failures_are_never_resent(error: HTTPError, failure: TransportFailure) -> None:
    http = StubHttp(error, (200, ALL_IDS.encode()))
    sleeps: list[float] = []
    verdict = stub_client(http, 5, sleeps).send(MESSAGE, NUMBERS, "c1")
    assert len(http.calls) == 1
    assert sleeps == []
    assert verdict.reason == failure.value
    assert all(r.status is S.UNKNOWN for r in verdict.results)


def test_sleeps_follow_the_backoff_schedule() -> None:
    http = StubHttp(NewConnectionError(NO_CONN, "refused"))
    sleeps: list[float] = []
    stub_client(http, 8, sleeps).send(MESSAGE, (N1,), "c1")
    assert len(http.calls) == 8
    assert len(sleeps) == 7
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.0 <= slept <= SEND_RETRY.ceiling_s(attempt)


# --- TLS over loopback ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _tls_pool(ca: Path) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=2.0, read=READ_TIMEOUT_S), retries=False, ca_certs=str(ca)
    )


def test_https_success(loopback: Callable[..., Loopback], tls_files: tuple[Path, Path]) -> None:
    loop = loopback(("answer", 200, ALL_IDS), tls=server_context(*tls_files))
    http = _tls_pool(tls_files[0])
    verdict = client(loop.url, http, attempts=3).send(MESSAGE, NUMBERS, "c1")
    http.clear()
    assert loop.posts == 1
    assert verdict.counts() == {S.SUBMITTED: 3}


def test_tls_handshake_failure_is_retried_and_nothing_is_posted(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager
) -> None:
    # https:// to a plain-HTTP server: the handshake fails before any request is written.
    loop = loopback(("answer", 200, ALL_IDS))
    https_url = loop.url.replace("http://", "https://")
    sleeps: list[float] = []
    verdict = client(https_url, pool, attempts=3, sleeps=sleeps).send(MESSAGE, NUMBERS, "c1")
    assert loop.posts == 0
    assert len(sleeps) == 2
    assert all(r.status is S.FAILED and r.error_code == NOT_SENT_CODE for r in verdict.results)
    assert verdict.results[0].error == f"not sent after 3 attempts: {TransportFailure.TLS.value}"


def test_untrusted_certificate_is_retried_and_nothing_is_posted(
    loopback: Callable[..., Loopback], pool: urllib3.PoolManager, tls_files: tuple[Path, Path]
) -> None:
    loop = loopback(("answer", 200, ALL_IDS), tls=server_context(*tls_files))
    verdict = client(loop.url, pool, attempts=2).send(MESSAGE, NUMBERS, "c1")  # default CA bundle
    assert loop.posts == 0
    assert all(r.error_code == NOT_SENT_CODE for r in verdict.results)


def test_tls_error_after_the_request_was_sent_is_unknown_not_resent(
    loopback: Callable[..., Loopback], tls_files: tuple[Path, Path]
) -> None:
    # Handshake done, request delivered (the server counts it), then a corrupt TLS record instead of
    # the answer. Clickatell has the request: rule 1 forbids sending it again.
    loop = loopback(("tls_garbage",), ("answer", 200, ALL_IDS), tls=server_context(*tls_files))
    http = _tls_pool(tls_files[0])
    verdict = client(loop.url, http, attempts=3).send(MESSAGE, NUMBERS, "c1")
    http.clear()
    assert loop.posts == 1
    assert all(r.status is S.UNKNOWN for r in verdict.results)
