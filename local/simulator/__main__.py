"""`python -m local.simulator`: run the simulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from local.simulator.options import Faults, parse_spec
from local.simulator.server import ClickatellSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--user", default="sim-user")
    parser.add_argument("--password", default="sim-password")
    parser.add_argument("--api-id", default="3456789")
    parser.add_argument("--api-key", default="sim-api-key", help="the One API integration's key")
    parser.add_argument("--callback-url", default=None, help="loopback URL that receives delivery callbacks")
    parser.add_argument("--faults", default="", help="k=v,k=v (after SIM_FAULTS, which it overrides)")
    parser.add_argument("--config", default="", help="settings as k=v,k=v, e.g. answer_style=one_line")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    try:
        faults = Faults().merged(parse_spec(os.environ.get("SIM_FAULTS", ""))).merged(parse_spec(args.faults))
        config: dict[str, Any] = dict(parse_spec(args.config))
        if args.callback_url:
            config["callback_url"] = args.callback_url
        sim = ClickatellSimulator(
            args.host,
            args.port,
            user=args.user,
            password=args.password,
            api_id=args.api_id,
            api_key=args.api_key,
            faults=faults,
            seed=args.seed,
            **config,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim.start()
    active = {k: v for k, v in sim.faults.as_dict().items() if v not in (0, 0.0, False, None)}
    print(f"Clickatell simulator listening on {sim.url} faults={active or 'none'}", flush=True)
    parent = os.getppid()
    try:
        while not stop.wait(0.5):
            if os.getppid() != parent:  # whoever started it is gone without stopping it
                break
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
