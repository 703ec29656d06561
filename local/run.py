"""`make local`: start the whole system on this machine and keep it in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
import warnings
from types import FrameType

from local.simulator.options import parse_spec
from local.stack import DEFAULT_API_KEY, TEMPLATE, LocalStack, StackConfig
from local.template import load_template

# What each port serves, and the make variable that moves it.
PORTS = (
    ("api_port", "the HTTP API", "API_PORT"),
    ("moto_port", "moto", "MOTO_PORT"),
    ("sim_port", "the simulator", "SIM_PORT"),
)


class StartupError(Exception):
    """A problem the user can fix, told in one line."""


def _parameter(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {item!r}")
    return name, value


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
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        help="template parameter override Name=Value (make local PARAMETERS='Name=Value ...')",
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
        parameter_overrides=dict(args.parameter),
        moto_process=True,
        simulator_process=True,
    )


def check_parameters(config: StackConfig) -> None:
    """PARAMETERS as the stack will apply them: a name the template lacks, a value out of range."""
    try:
        load_template(TEMPLATE, config.parameter_overrides)
    except ValueError as error:
        raise StartupError(f"PARAMETERS: {error}") from None


def check_ports(config: StackConfig) -> None:
    """Fail at once, naming the port, if one is taken: moto's server would otherwise die in its
    thread and leave the start waiting forever."""
    for attribute, what, variable in PORTS:
        port = getattr(config, attribute)
        if not port:
            continue
        with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind((config.host, port))
            except OSError as error:
                reason = (
                    "is already in use"
                    if error.errno == errno.EADDRINUSE
                    else f"cannot be used ({error.strerror})"
                )
                raise StartupError(
                    f"port {port} ({what}) on {config.host} {reason}; choose another with {variable}=<port>"
                ) from None


def banner(stack: LocalStack) -> str:
    assert stack.simulator is not None
    return f"""
bulksms local stack is up (Ctrl-C stops it)
  API                 {stack.api_url}   (x-api-key: {stack.config.api_key})
  Clickatell sim      {stack.simulator.url}   (stats: {stack.simulator.url}/_sim/stats)
  Clickatell used     {stack.template.parameters["ClickatellBaseUrl"]}
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
    config = config_from_args(argv)
    try:
        check_parameters(config)
        check_ports(config)
    except StartupError as error:
        print(f"make local: {error}", file=sys.stderr, flush=True)
        return 2
    stopped = threading.Event()
    started = False

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()
        if not started:  # interrupt the start itself; `finally` stops what it had started
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack = LocalStack(config)
    code = 0
    try:
        stack.start()
        started = True
        print(banner(stack), flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"make local: a port was taken while starting: {error}", file=sys.stderr, flush=True)
        code = 2
    finally:
        started = True  # a second Ctrl-C must not interrupt the stop
        print("stopping...", flush=True)
        stack.stop()
    # Invocations still running (e.g. a sender retrying against the stopped moto) are abandoned, as
    # Lambda abandons them at shutdown: the pool's threads must not hold the exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
