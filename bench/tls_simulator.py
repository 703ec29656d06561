"""`python -m bench.tls_simulator --cert C --key K`: the Clickatell simulator behind TLS, in its own
process, for the connection-reuse pair over HTTPS (Clickatell is only reachable over HTTPS, and the
template accepts only https:// base URLs, so a new connection in production costs a TLS handshake).

The simulator is `local.simulator.ClickatellSimulator` unchanged; only its listening socket is wrapped
with a server-side TLS context. The handshake of each connection runs on first read, in that
connection's own handler thread, as a threaded TLS server would do it.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    from local.simulator import ClickatellSimulator
    from local.tls import server_context

    parser = argparse.ArgumentParser(prog="python -m bench.tls_simulator")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)

    context = server_context(Path(args.cert), Path(args.key))
    sim = ClickatellSimulator("127.0.0.1", 0)
    server = sim._server  # its listening socket is the one thing wrapped
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim.start()
    print(f"TLS Clickatell simulator listening on https://127.0.0.1:{sim.port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
