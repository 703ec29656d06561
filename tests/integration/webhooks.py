"""Status-callback endpoints for the tests: HTTPS servers on 127.0.0.1 with a throwaway certificate
(the fixtures `certificate`, `webhook_env` and `receiver` are in conftest.py), and a driver for the
StatusCallbackFunction's queue."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.stack import LocalStack
from local.tls import server_context

FUNCTION = "StatusCallbackFunction"


class Receiver:
    """An HTTPS server on 127.0.0.1 that records every request; answers `answers` in turn, then 200.

    With `trickle_s`, it answers a byte at a time every `trickle_s` seconds, for at most `trickle_for_s`
    (bounded), and records how each such answer ended.
    """

    def __init__(
        self,
        certificate: tuple[Path, Path],
        answers: tuple[int, ...] = (),
        *,
        trickle_s: float = 0.0,
        trickle_for_s: float = 120.0,
    ) -> None:
        self.received: list[dict[str, Any]] = []
        self.trickles: list[dict[str, Any]] = []  # per trickled answer: bytes sent, cut by the client
        self._answers = list(answers)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver._answers.pop(0) if receiver._answers else 200
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body,
                            "answered": status,
                        }
                    )
                if trickle_s:
                    receiver._trickle(self, trickle_s, trickle_for_s)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = server_context(*certificate)
        self._server.socket = context.wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()

    def _trickle(self, handler: BaseHTTPRequestHandler, every_s: float, for_s: float) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: " + b"." * 10_000 + b"\r\n\r\n"
        record: dict[str, Any] = {"sent": 0, "cut_by_client": False, "open": True}
        with self._lock:
            self.trickles.append(record)
        deadline = time.monotonic() + for_s
        try:
            for byte in answer:
                if time.monotonic() > deadline or self._closing.is_set():
                    break
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                record["sent"] += 1
                time.sleep(every_s)
        except OSError:
            record["cut_by_client"] = True
        finally:
            record["open"] = False
            handler.close_connection = True

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def open_trickles(self) -> int:
        with self._lock:
            return sum(1 for record in self.trickles if record["open"])

    def close(self) -> None:
        self._closing.set()  # trickled answers end now, so their clients are not held either
        self._server.shutdown()
        self._server.server_close()


def deliver(stack: LocalStack, timeout_s: float = 30) -> None:
    """Run the real StatusCallbackFunction over the webhook queue until it is empty (retries included)."""
    poller = stack.poller(FUNCTION)
    deadline = time.monotonic() + timeout_s
    while stack.queue_depth("WebhookQueue"):
        if time.monotonic() > deadline:
            raise AssertionError("the webhook queue did not drain")
        poller.poll_once(wait_s=1)
