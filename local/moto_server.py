"""`python -m local.moto_server`: moto in a process of its own, for `make local` and the bench.

The local stack is Python threads sharing one interpreter lock; moto's DynamoDB alone spends a few
milliseconds of CPU per call, so beside the functions it held the whole stack to one core. In its own
process it has the second core, as DynamoDB is its own service on AWS. The table's stream is read
here too (local.streams.StreamsEndpoint), where moto keeps it, as Lambda's poller reads a stream
inside AWS. Prints `moto ready on HOST:PORT` once it serves, and stops on SIGTERM or SIGINT, or when
the process that started it is gone.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from local.aws_env import start_moto


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    parent = os.getppid()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    server = start_moto(args.host, args.port)
    host, port = server.get_host_and_port()
    print(f"moto ready on {host}:{port}", flush=True)
    while not stopped.wait(1.0):
        if os.getppid() != parent:  # the stack died without stopping us
            break
    server.stop()
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
