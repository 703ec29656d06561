"""A Clickatell legacy HTTP/S API simulator served on a real socket.

`ClickatellSimulator` owns the state (messages, counters, faults, settings) behind one lock; the
`http.server` handler only parses requests and writes answers. Per-request work is O(numbers) with no
per-number logging, so a benchmark measures the client rather than the simulator.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from local.simulator import one_api
from local.simulator.answers import Record, format_answer
from local.simulator.callbacks import CallbackDispatcher, CallbackJob, callback_steps
from local.simulator.delivery_rules import check_delivery
from local.simulator.mo import MoChannel
from local.simulator.model import ACCEPTED_STATUS, Message, MessageRow
from local.simulator.options import Faults, Settings
from local.simulator.rate import PeakWindow
from local.simulator.rules import (
    PER_NUMBER_FAULT_CODES,
    ROUTING_ERROR_STATUS,
    MessageSpec,
    check_message,
    err,
    is_valid_number,
)

SESSION_IDLE_SECONDS = 15 * 60
UNLIMITED_BALANCE = 1_000_000.0
REQUEST_LOG_SIZE = 1000
FAULT_COUNTERS = ("http_5xx", "timeout", "reset", "err_per_number")
APIS = ("http", "one")  # the legacy /http/sendmsg and the One API's /v1/message

_5XX_BODIES = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
    503: b"<html><head><title>503 Service Unavailable</title></head>"
    b"<body><h1>503 Service Unavailable</h1></body></html>\n",
    504: b"<html><head><title>504 Gateway Time-out</title></head>"
    b"<body><h1>504 Gateway Time-out</h1></body></html>\n",
}


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the handler does with a sendmsg request after the simulator has processed it."""

    action: Literal["answer", "http_error", "stall", "reset"]
    status: int = 200
    body: bytes = b""
    stall_seconds: float = 0.0
    content_type: str = "text/plain"


class ClickatellSimulator:
    """Clickatell's `/http/*` commands plus `/_sim/*` test controls on `host:port` (port 0: a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        user: str = "sim-user",
        password: str = "sim-password",
        api_id: str = "3456789",
        api_key: str = "sim-api-key",
        faults: Faults | None = None,
        seed: int | None = None,
        callback_workers: int = 16,
        callback_queue_limit: int = 200_000,
        **config: Any,
    ) -> None:
        self.user, self.password, self.api_id = user, password, str(api_id)
        self.api_key = api_key  # the One API integration's key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._settings = Settings().merged(config)
        self._credit = self._settings.credit
        faults = faults or Faults()
        if seed is not None:
            faults = faults.merged({"seed": seed})
        self._initial_seed = faults.seed
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._id_prefix = secrets.token_hex(8)
        self._id_counter = 0
        self._sessions: dict[str, float] = {}
        self._open_sockets: set[socket.socket] = set()
        self._clear_state()
        self._callbacks = CallbackDispatcher(
            self.api_id,
            self._current_settings,
            self._set_status,
            workers=callback_workers,
            queue_limit=callback_queue_limit,
        )
        self.mo = MoChannel(self.api_id)
        self._server = _Server((host, port), self)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._stopped = False

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ClickatellSimulator:
        if self._thread is None:
            self._callbacks.start()
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name="sim-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()  # wakes stalled and delayed requests
        self._callbacks.stop()
        self.mo.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:  # idle keep-alive connections would otherwise keep their threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> ClickatellSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- test controls

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "requests": self._requests,
                "requests_by_api": {api: self._requests_by_api[api] for api in APIS},
                "recipients_accepted": self._accepted,
                "duplicate_sends": self._duplicates,
                "connections": self._connections,
                "max_numbers_per_request": self._max_numbers,
                "max_recipients_per_s": self._peak_1s.peak,
                "max_recipients_per_10s": self._peak_10s.peak,
                "faults_injected": {name: self._injected[name] for name in FAULT_COUNTERS},
            }
        out.update(self._callbacks.stats())
        return out

    @property
    def faults(self) -> Faults:
        return self._faults

    @property
    def settings(self) -> Settings:
        return self._settings

    def set_faults(self, **changes: Any) -> Faults:
        """Merge fault settings into the current ones; a new `seed` restarts the RNG."""
        with self._lock:
            self._faults = self._faults.merged(changes)
            if "seed" in changes:
                self._rng.seed(self._faults.seed)
            return self._faults

    def configure(self, **changes: Any) -> Settings:
        with self._lock:
            self._settings = self._settings.merged(changes)
            if "credit" in changes:
                self._credit = self._settings.credit
            return self._settings

    def config(self) -> dict[str, Any]:
        with self._lock:
            out = self._settings.as_dict()
            out["credit"] = self._credit
            return out

    def reset(self) -> None:
        """Clear counters, messages, the request log and faults; settings (and sessions) stay."""
        with self._lock:
            self._clear_state()
            self._faults = Faults(seed=self._initial_seed)
            self._rng.seed(self._initial_seed)
            self._credit = self._settings.credit
        self._callbacks.reset()
        self.mo.reset()

    def messages_for(self, to: str) -> list[dict[str, Any]]:
        """Every message accepted for `to`, oldest first (a scan: for tests, not for the hot path)."""
        with self._lock:
            statuses = self._statuses
            rows = [row for row in self._messages.values() if row[2] == to]
            return [Message._make(row).as_dict(statuses.get(row[0], ACCEPTED_STATUS)) for row in rows]

    def message(self, api_msg_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._messages.get(api_msg_id)
            if row is None:
                return None
            return Message._make(row).as_dict(self._statuses.get(api_msg_id, ACCEPTED_STATUS))

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The last sendmsg requests: `method`, `params` (first values, no password), `numbers`."""
        with self._lock:
            return list(self._request_log)

    # ----------------------------------------------------------------- internals

    def _clear_state(self) -> None:
        self._requests = 0
        self._requests_by_api: Counter[str] = Counter()
        self._accepted = 0
        self._duplicates = 0
        self._connections = 0
        self._max_numbers = 0
        self._peak_1s, self._peak_10s = PeakWindow(1.0), PeakWindow(10.0)
        self._injected: Counter[str] = Counter()
        self._messages: dict[str, MessageRow] = {}
        self._statuses: dict[str, str] = {}  # only messages whose status moved past ACCEPTED_STATUS
        self._by_cli_msg_id: dict[str, str] = {}
        self._sent_keys: set[tuple[str, str, str]] = set()
        self._request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def _current_settings(self) -> Settings:
        return self._settings

    def _set_status(self, api_msg_id: str, status: str) -> None:
        with self._lock:
            if api_msg_id in self._messages:
                self._statuses[api_msg_id] = status

    def _on_connect(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections += 1
            self._open_sockets.add(sock)

    def _on_disconnect(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _answer(self, records: list[Record], settings: Settings) -> bytes:
        return format_answer(records, settings.answer_style, settings.trailing_newline).encode("utf-8")

    def _text(self, line: str) -> bytes:
        return (line + "\n" if self._settings.trailing_newline else line).encode("utf-8")

    def _check_auth(
        self, params: dict[str, str], faults: Faults, allow_session: bool = True
    ) -> Record | None:
        if faults.auth_fail:
            return err("001")
        session_id = params.get("session_id")
        if session_id and allow_session:
            now = time.monotonic()
            with self._lock:
                last = self._sessions.get(session_id)
                if last is None:
                    return err("001")
                if now - last > SESSION_IDLE_SECONDS:
                    del self._sessions[session_id]
                    return err("003")
                self._sessions[session_id] = now  # every use renews it
            return None
        if params.get("user") != self.user or params.get("password") != self.password:
            return err("001")
        if params.get("api_id") != self.api_id:
            return err("108")
        return None

    def _draw_request_fault(self, faults: Faults) -> str | None:
        """Called under the lock: one RNG, a fixed draw order, so a seed gives the same run."""
        rng = self._rng
        if faults.http_5xx and rng.random() < faults.http_5xx:
            self._injected["http_5xx"] += 1
            return str(rng.choice((502, 503, 504)))
        if faults.reset and rng.random() < faults.reset:
            self._injected["reset"] += 1
            return "reset"
        if faults.timeout and rng.random() < faults.timeout:
            self._injected["timeout"] += 1
            return "timeout"
        return None

    def sendmsg(self, method: str, params: dict[str, str]) -> _Outcome:
        to = params.get("to", "")
        numbers = [n for n in (item.strip() for item in to.split(",")) if n] if to else []
        logged = {k: v for k, v in params.items() if k != "password"}
        return self._serve(
            "http",
            {"method": method, "params": logged, "numbers": len(numbers)},
            len(numbers),
            lambda faults, settings: (
                200,
                self._answer(self._process(method, params, numbers, faults, settings), settings),
            ),
            "text/plain",
        )

    def send_one(self, api_key: str, body: bytes) -> _Outcome:
        """The One API's `POST /v1/message` (local.simulator.one_api), with the same faults."""
        request = one_api.read_request(body)
        return self._serve(
            "one",
            {"api": "one", "method": "POST", "params": request.logged, "numbers": len(request.numbers)},
            len(request.numbers),
            lambda faults, settings: one_api.answer(self, request, api_key, faults, settings),
            "application/json",
        )

    def _serve(
        self,
        api: str,
        logged: dict[str, Any],
        count: int,
        process: Callable[[Faults, Settings], tuple[int, bytes]],
        content_type: str,
    ) -> _Outcome:
        """Count and log a send request, inject its fault, and process it unless the fault came first."""
        with self._lock:
            self._requests += 1
            self._requests_by_api[api] += 1
            self._max_numbers = max(self._max_numbers, count)
            self._request_log.append(logged)
            faults, settings = self._faults, self._settings
            fault = self._draw_request_fault(faults)
        if faults.latency_ms:
            self._stop.wait(faults.latency_ms / 1000.0)
        if fault in ("502", "503"):  # the gateway in front failed: nothing reached Clickatell
            return _Outcome("http_error", int(fault), _5XX_BODIES[int(fault)])
        status, body = process(faults, settings)
        if fault == "504":
            return _Outcome("http_error", 504, _5XX_BODIES[504])
        if fault == "timeout":
            return _Outcome("stall", stall_seconds=settings.stall_seconds)
        if fault == "reset":
            return _Outcome("reset")
        return _Outcome("answer", status, body, content_type=content_type)

    def _process(
        self, method: str, params: dict[str, str], numbers: list[str], faults: Faults, settings: Settings
    ) -> list[Record]:
        failed = self._check_auth(params, faults)
        if failed:
            return [failed]
        if faults.no_credit:
            return [err("301")]
        if not numbers:
            return [err("105")]
        if len(numbers) > settings.recipient_limit(method):
            return [err("101")]
        spec = check_message(params)
        if isinstance(spec, Record):
            return [spec]
        if bad := check_delivery(params, time.time()):
            return [bad]
        valid = [is_valid_number(n) is not None for n in numbers]
        records, jobs, out_of_credit = self._accept(numbers, valid, spec, faults, settings)
        if jobs:
            self._callbacks.schedule(jobs, settings.callback_delay_ms / 1000.0)
        if out_of_credit and not any(record.key == "ID" for record in records):
            return [err("301")]
        if len(numbers) == 1:
            return [records[0].without_to()]
        return records

    def _accept(
        self, numbers: list[str], valid: list[bool], spec: MessageSpec, faults: Faults, settings: Settings
    ) -> tuple[list[Record], list[CallbackJob], bool]:
        """The per-number loop, under the lock; hot, so attribute lookups are hoisted into locals."""
        records: list[Record] = []
        jobs: list[CallbackJob] = []
        append = records.append
        rate = faults.err_per_number
        level, parts, text_key, sender, cli_msg_id = (
            spec.callback_level,
            spec.parts,
            spec.text_key,
            spec.sender,
            spec.cli_msg_id,
        )
        want_callbacks = settings.callback_url is not None and level > 0
        over_max_credits = spec.over_max_credits
        statuses, weights = list(settings.callback_status_mix), list(settings.callback_status_mix.values())
        dup_rate, swap_rate = faults.callback_duplicates, faults.callback_out_of_order
        opted_out = self.mo.opted_out
        accepted_id = ""
        accepted = duplicates = injected = 0
        out_of_credit = False
        with self._lock:
            rng, credit, prefix, counter = self._rng, self._credit, self._id_prefix, self._id_counter
            messages, sent_keys = self._messages, self._sent_keys
            for number, ok in zip(numbers, valid, strict=True):
                if not ok:
                    append(err("105", number))
                    continue
                if opted_out and number in opted_out:
                    append(err("122", number))
                    continue
                if rate and rng.random() < rate:
                    injected += 1
                    append(err(rng.choice(PER_NUMBER_FAULT_CODES), number))
                    continue
                if credit is not None:
                    if credit < parts:
                        # Like Clickatell's per-recipient `ERR: 301 ... To:`: the numbers before
                        # this one were accepted and keep their IDs.
                        out_of_credit = True
                        append(err("301", number))
                        continue
                    credit -= parts
                counter += 1
                accepted_id = f"{prefix}{counter:016x}"
                row = (accepted_id, cli_msg_id, number, sender, text_key, level, parts)
                messages[accepted_id] = row
                key = (number, text_key, sender)
                if key in sent_keys:
                    duplicates += 1
                else:
                    sent_keys.add(key)
                accepted += 1
                append(Record("ID", accepted_id, "", number))
                if want_callbacks:
                    if over_max_credits:
                        final = ROUTING_ERROR_STATUS
                    else:
                        final = statuses[0] if len(statuses) == 1 else rng.choices(statuses, weights)[0]
                    duplicate = bool(dup_rate) and rng.random() < dup_rate
                    swapped = bool(swap_rate) and rng.random() < swap_rate
                    steps = callback_steps(level, final, duplicate, swapped)
                    if steps:
                        jobs.append(CallbackJob(Message._make(row), steps))
            self._id_counter = counter
            self._credit = credit
            self._accepted += accepted
            now = time.monotonic()
            self._peak_1s.add(now, accepted)
            self._peak_10s.add(now, accepted)
            self._duplicates += duplicates
            self._injected["err_per_number"] += injected
            if cli_msg_id and accepted_id:
                self._by_cli_msg_id[cli_msg_id] = accepted_id
        return records, jobs, out_of_credit

    def command(self, command: str, params: dict[str, str]) -> bytes | None:
        """The other `/http/*` commands; None for an unknown one."""
        faults = self._faults
        if command == "auth":
            failed = self._check_auth(params, faults, allow_session=False)
            if failed:
                return self._text(failed.render())
            session_id = secrets.token_hex(16)
            with self._lock:
                self._sessions[session_id] = time.monotonic()
            return self._text(f"OK: {session_id}")
        if command not in ("ping", "getbalance", "querymsg"):
            return None
        failed = self._check_auth(params, faults)
        if failed:
            return self._text(failed.render())
        if command == "ping":
            return self._text("OK:")
        if command == "getbalance":
            credit = self._credit
            return self._text(f"Credit: {float(UNLIMITED_BALANCE if credit is None else credit)}")
        api_msg_id = params.get("apimsgid") or params.get("apiMsgId")
        cli_msg_id = params.get("climsgid") or params.get("cliMsgId")
        with self._lock:
            if api_msg_id:
                message = self._messages.get(api_msg_id)
                missing = "103"
            elif cli_msg_id:
                found = self._by_cli_msg_id.get(cli_msg_id)
                message = self._messages.get(found) if found else None
                missing = "104"
            else:
                message, missing = None, "109"
            status = self._statuses.get(message[0], ACCEPTED_STATUS) if message else ""
        if message is None:
            return self._text(err(missing).render())
        return self._text(f"ID: {message[0]} Status: {status}")

    def control(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """`/_sim/*`: JSON in and out."""
        name = path.removeprefix("/_sim/").strip("/")
        try:
            changes = json.loads(body) if method == "POST" and body.strip() else {}
        except json.JSONDecodeError as exc:
            return 400, {"error": f"invalid JSON: {exc}"}
        if not isinstance(changes, dict):
            return 400, {"error": "expected a JSON object"}
        try:
            if name == "stats" and method == "GET":
                return 200, self.stats()
            if name == "faults":
                faults = self.set_faults(**changes) if method == "POST" else self._faults
                return 200, {"faults": faults.as_dict()}
            if name == "config":
                if method == "POST":
                    self.configure(**changes)
                return 200, self.config()
            if name == "reset" and method == "POST":
                self.reset()
                return 200, {"ok": True}
            if name == "messages" and method == "GET":
                to = urllib.parse.parse_qs(query).get("to", [""])[0]
                if not to:
                    return 400, {"error": "give ?to=<number>"}
                return 200, {"messages": self.messages_for(to)}
            if name == "requests" and method == "GET":
                return 200, {"requests": self.requests}
            if name in ("mo", "mo/config", "opt_outs"):
                return self.mo.control(method, name, changes)
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}
        return 404, {"error": f"no such control: {method} {path}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: ClickatellSimulator) -> None:
        self.sim = sim
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn), which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim._on_connect(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        self.sim._on_disconnect(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away; nothing to report
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        try:
            body = self._read_body()
        except ValueError:
            self._send(400, b"bad request body\n", "text/plain", close=True)
            return
        if method == "GET":
            # Some clients send a body with a GET; left unread it would be taken for the next request
            # on the keep-alive connection. Clickatell reads a GET's parameters from its query only.
            body = b""
        path, _, query = self.path.partition("?")
        if path.startswith("/http/"):
            command = path.removeprefix("/http/").removesuffix(".php")
            params: dict[str, str] = {}
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            if body:
                pairs += urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            for key, value in pairs:
                params.setdefault(key, value)  # a name given twice: the first wins
            if command == "sendmsg":
                self._execute(sim.sendmsg(method, params))
                return
            answer = sim.command(command, params)
            if answer is not None:
                self._send(200, answer, "text/plain")
                return
        elif path == one_api.PATH and method == "POST":
            self._execute(sim.send_one(self.headers.get("Authorization") or "", body))
            return
        elif path.startswith("/_sim/"):
            status, payload = sim.control(method, path, query, body)
            self._send(status, json.dumps(payload).encode("utf-8"), "application/json")
            return
        self._send(404, b"Not Found\n", "text/plain")

    def _execute(self, outcome: _Outcome) -> None:
        if outcome.action == "answer":
            self._send(outcome.status, outcome.body, outcome.content_type)
        elif outcome.action == "http_error":
            self._send(outcome.status, outcome.body, "text/html")
        elif outcome.action == "stall":
            # The request was processed; the answer never comes. Stop wakes the wait.
            self.server.sim._stop.wait(outcome.stall_seconds)
            self.close_connection = True
        else:
            self._abort()

    def _abort(self) -> None:
        """Close with RST instead of FIN: SO_LINGER on with timeout 0, then close."""
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference so close() really closes the descriptor
        sock.close()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        if close:
            self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)  # one write: one segment when small
