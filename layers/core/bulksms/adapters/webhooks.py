"""POST a webhook over HTTPS to an address checked just before, within one total deadline.

The connection goes to the address that was checked (not to a second lookup, which DNS rebinding
could point elsewhere), with the URL's host for TLS verification and the Host header. Redirects are
never followed. The deadline covers connect, TLS, the request and the whole answer: a timer shuts the
socket down when it runs out, so a server that trickles a byte every few seconds cannot hold us (a
per-read timeout would never fire).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Collection, Mapping

from bulksms.domain.webhook_urls import UnsafeUrl, WebhookUrl, check_addresses, parse

_ANSWER_BYTES = 65_536  # read and dropped: only the status matters


class DeliveryFailed(Exception):
    """The attempt got no 2xx answer (connection, TLS, deadline); worth trying again later."""


def checked(url: str, allowed_hosts: Collection[str]) -> tuple[WebhookUrl, str]:
    """The parsed URL and the address to call; UnsafeUrl if it is not https or not public."""
    parsed = parse(url)
    try:
        infos = socket.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"{parsed.host} does not resolve") from None
    return parsed, check_addresses(parsed, [str(info[4][0]) for info in infos], allowed_hosts)


class _Deadline:
    """Shuts the connection's socket down when the time is up, in whatever phase it is."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            # The plain socket's shutdown, also for TLS: it wakes a read blocked in another thread.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            self._sock = None
            self._timer.cancel()


def post(
    url: WebhookUrl,
    address: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline_s: float,
    tls: ssl.SSLContext,
) -> int:
    """POST `body`; the answer's HTTP status. Raises DeliveryFailed when there is no whole answer."""
    started = time.monotonic()
    deadline = _Deadline(deadline_s)
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((address, url.port), timeout=deadline_s)
        deadline.track(sock)
        sock = tls.wrap_socket(sock, server_hostname=url.host, do_handshake_on_connect=False)
        deadline.track(sock)
        sock.do_handshake()
        connection = http.client.HTTPConnection(url.host, url.port, timeout=deadline_s)
        connection.sock = sock
        connection.request("POST", url.target, body=body, headers={**headers, "Host": url.host_header})
        response = connection.getresponse()
        response.read(_ANSWER_BYTES)
        return response.status
    except (OSError, ValueError, http.client.HTTPException) as error:
        if deadline.expired:
            raise DeliveryFailed(f"no whole answer within {deadline_s:g} s") from None
        elapsed = time.monotonic() - started
        raise DeliveryFailed(f"{type(error).__name__} after {elapsed:.1f} s") from None
    finally:
        deadline.close()
        if sock is not None:
            sock.close()


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates verified against the system's authorities (or `ca_file`, for a test endpoint)."""
    return ssl.create_default_context(cafile=ca_file or None)
