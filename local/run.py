"""`make local`: start the whole system on this machine and keep it in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import warnings
from types import FrameType

from local.simulator.options import parse_spec
from local.stack import DEFAULT_API_KEY, LocalStack, StackConfig


def config_from_args(argv: list[str] | None = None) -> StackConfig:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--sim-port", type=int, default=8099)
    parser.add_argument("--api-key", default=os.environ.get("LOCAL_API_KEY", DEFAULT_API_KEY))
    parser.add_argument("--sim-faults", default=os.environ.get("SIM_FAULTS", ""), help="k=v,k=v")
    parser.add_argument("--sim-seed", type=int, default=None)
    parser.add_argument("--sweep-every", type=float, default=30.0, help="seconds between sweeper runs")
    parser.add_argument(
        "--parameter", action="append", default=[], help="template parameter override Name=Value"
    )
    args = parser.parse_args(argv)
    return StackConfig(
        host=args.host,
        api_port=args.api_port,
        moto_port=args.moto_port,
        sim_port=args.sim_port,
        api_key=args.api_key,
        sim_faults=dict(parse_spec(args.sim_faults)),
        sim_seed=args.sim_seed,
        sweep_every_s=args.sweep_every,
        parameter_overrides=dict(item.split("=", 1) for item in args.parameter),
    )


def banner(stack: LocalStack) -> str:
    assert stack.simulator is not None
    return f"""
bulksms local stack is up (Ctrl-C stops it)
  API                 {stack.api_url}   (x-api-key: {stack.config.api_key})
  Clickatell sim      {stack.simulator.url}   (stats: {stack.simulator.url}/_sim/stats)
  AWS (moto)          {stack.endpoint}   (table {stack.resources.refs["Table"]})
  callbacks           {stack.callback_url}
  replies (MO)        {stack.inbound_url}   (simulate one: POST {stack.simulator.url}/_sim/mo)

Try:
  curl -s -X POST {stack.api_url}/v1/messages -H 'x-api-key: {stack.config.api_key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"to": ["27821234567", "27831234567"], "text": "Hello from bulksms"}}'
  curl -s {stack.api_url}/v1/messages/<job_id> -H 'x-api-key: {stack.config.api_key}'
""".rstrip()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOCAL_LOG_LEVEL", "WARNING"))
    # In Lambda this warning marks an invocation without metrics; here it would repeat for every one.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    # Before start(): a Ctrl-C while it starts must still stop everything it started.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack = LocalStack(config_from_args(argv))
    try:
        stack.start()
        print(banner(stack), flush=True)
        stopped.wait()
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
