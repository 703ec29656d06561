"""`make demo`: one request sends one message to 10,000 numbers through the local stack; watch every
number reach its outcome.

Only the public HTTP API is used. If nothing answers at --api-url, the local stack
(`python -m local.run`) is started for the demo and stopped at the end. Exit status 0 only if every
accepted recipient left `queued` within --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import urllib3

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".local-stack"
DEFAULT_API_URL = "http://127.0.0.1:3000"
DEFAULT_API_KEY = "local-dev-key"
STACK_READY_LINE = "bulksms local stack is up"
FINAL_JOB_STATUSES = ("completed", "cancelled", "failed")
COUNT_ORDER = ("queued", "submitted", "delivered", "failed", "expired", "unknown", "cancelled")
TEXT = "Your bulksms demo code is 4821"
# Deliberately bad numbers: the 202 answer reports each with its reason.
INVALID = ("0821234567", "27999000001", "12345")


class DemoError(Exception):
    """Something the user should read; the demo exits 1 with this message."""


@dataclass(frozen=True)
class Recipients:
    to: list[str]  # what is sent: the valid block, the repeats and the invalid ones, shuffled
    valid: int
    repeats: int
    invalid: int


def demo_recipients(count: int, rng: random.Random) -> Recipients:
    """`count` distinct valid South African mobile numbers (2782 + 7 digits, from a random start so
    repeated demos on one stack do not resend to the same numbers), a few repeated (two of them
    written differently: `+27 ...` and `0027...`) and a few invalid."""
    start = rng.randrange(0, 10_000_000 - count + 1)
    valid = [f"2782{start + i:07d}" for i in range(count)]
    picks = rng.sample(valid, min(5, count))
    repeats = (
        picks[:3] + [f"+27 {n[2:4]} {n[4:7]} {n[7:]}" for n in picks[3:4]] + [f"00{n}" for n in picks[4:5]]
    )
    to = valid + repeats + list(INVALID)
    rng.shuffle(to)
    return Recipients(to, len(valid), len(repeats), len(INVALID))


# -- the public API ---------------------------------------------------------------------------------


class Api:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"x-api-key": api_key, "Content-Type": "application/json"}
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=60.0))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        try:
            response = self._http.request(method, self.base_url + path, body=data, headers=self._headers)
        except urllib3.exceptions.HTTPError as error:
            raise DemoError(f"{method} {self.base_url}{path} failed: {error}") from error
        try:
            return response.status, json.loads(response.data) if response.data else None
        except ValueError:
            raise DemoError(
                f"{method} {self.base_url}{path} answered {response.status} with something that is not JSON; "
                "is the bulksms API running there?"
            ) from None

    def answering(self) -> bool:
        """Whether anything answers HTTP at the base URL."""
        try:
            self._http.request(
                "GET",
                self.base_url + "/v1/messages/" + "0" * 32,
                headers=self._headers,
                timeout=urllib3.Timeout(connect=1.0, read=5.0),
            )
        except urllib3.exceptions.HTTPError:
            return False
        return True


# -- a stack of its own, when none is running -----------------------------------------------------------


def free_ports(host: str, count: int) -> list[int]:
    """Distinct free ports: all bound to port 0 at once, then released for the stack to take."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


@contextmanager
def own_stack(
    api: Api, out: TextIO, startup_timeout_s: float, parameters: tuple[str, ...] = ()
) -> Iterator[None]:
    """Start `python -m local.run` on the API URL's port (moto and the simulator on free ports, so a
    busy :5000 or :8099 does not matter), wait until it answers, and stop it with SIGINT at the end."""
    url = urlsplit(api.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    LOG_DIR.mkdir(exist_ok=True)
    log_path = LOG_DIR / "demo-stack.log"
    moto_port, sim_port = free_ports(host, 2)
    options = {"--host": host, "--api-port": port, "--moto-port": moto_port, "--sim-port": sim_port}
    command = [sys.executable, "-m", "local.run", *(str(part) for pair in options.items() for part in pair)]
    command += [part for parameter in parameters for part in ("--parameter", parameter)]
    print(
        f"Nothing answers at {api.base_url}: starting the local stack "
        f"(log: {log_path.relative_to(ROOT)}) ...",
        file=out,
        flush=True,
    )
    began = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = began + startup_timeout_s
        while not (STACK_READY_LINE in log_path.read_text(errors="replace") and api.answering()):
            if process.poll() is not None:
                raise DemoError(
                    f"the local stack exited with status {process.returncode}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the local stack did not answer within {startup_timeout_s:.0f} s:\n{_tail(log_path)}"
                )
            time.sleep(0.2)
        print(f"  up in {time.monotonic() - began:.1f} s", file=out, flush=True)
        yield
    except DemoError as error:
        raise DemoError(f"{error}\n(local stack log: {log_path})") from None
    finally:
        _stop(process, out)


def _stop(process: subprocess.Popen[bytes], out: TextIO) -> None:
    if process.poll() is not None:
        return
    print("Stopping the local stack ...", file=out, flush=True)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the demo ---------------------------------------------------------------------------------------


def bar(done: int, total: int, rate: float, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} sent  {rate:,.0f}/s"


class Progress:
    """A text progress bar: redrawn in place with \\r on a terminal, one line every few seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last_line = 0.0
        self._shown = ""

    def show(self, line: str, final: bool = False) -> None:
        if self._tty:
            self._out.write("\r" + line.ljust(len(self._shown)) + ("\n" if final else ""))
            self._out.flush()
        elif final or time.monotonic() - self._last_line >= 2.0:
            print(line, file=self._out, flush=True)
            self._last_line = time.monotonic()
        self._shown = line


def submit(api: Api, recipients: Recipients, out: TextIO) -> dict[str, Any]:
    print(
        f"POST /v1/messages: one message to {len(recipients.to):,} numbers "
        f"({recipients.valid:,} valid, {recipients.repeats} repeated, {recipients.invalid} invalid)",
        file=out,
        flush=True,
    )
    began = time.monotonic()
    status, answer = api.call(
        "POST", "/v1/messages", {"to": recipients.to, "text": TEXT, "client_reference": "make-demo"}
    )
    if status != 202:
        raise DemoError(f"POST /v1/messages answered {status}: {json.dumps(answer)}")
    print(
        f"  202 Accepted in {time.monotonic() - began:.2f} s: job {answer['job_id']}\n"
        f"  accepted {answer['accepted']:,}, duplicates removed {answer['duplicates_removed']}, "
        f"normalised {answer['normalised']}, rejected {answer['rejected_count']}; "
        f"encoding {answer['encoding']}, {answer['parts_per_message']} part(s) per message",
        file=out,
        flush=True,
    )
    for rejected in answer["rejected"]:
        print(f"    rejected {rejected['to']!r}: {rejected['reason']}", file=out)
    return dict(answer)


def watch(api: Api, job_id: str, began: float, timeout_s: float, out: TextIO) -> dict[str, Any]:
    """Poll the job until it is finished (no recipient `queued`, a final status) or the time is up."""
    progress = Progress(out)
    deadline = began + timeout_s
    while True:
        status, job = api.call("GET", f"/v1/messages/{job_id}")
        if status != 200:
            raise DemoError(f"GET /v1/messages/{job_id} answered {status}: {json.dumps(job)}")
        counts = job["counts"]
        done = counts["total"] - counts["queued"]
        finished = counts["queued"] == 0 and job["status"] in FINAL_JOB_STATUSES
        elapsed = time.monotonic() - began
        progress.show(bar(done, counts["total"], done / elapsed if elapsed else 0.0), final=finished)
        if finished:
            return dict(job)
        if time.monotonic() > deadline:
            progress.show(bar(done, counts["total"], done / elapsed), final=True)
            raise DemoError(
                f"the job did not finish within {timeout_s:.0f} s: status {job['status']}, "
                f"{counts['queued']:,} of {counts['total']:,} recipients still queued"
            )
        time.sleep(0.25)


def report(job: dict[str, Any], accepted: int, elapsed: float, out: TextIO) -> bool:
    counts = job["counts"]
    print(
        f"Job {job['status']} in {elapsed:.1f} s: "
        f"{accepted:,} recipients, {accepted / elapsed:,.0f} recipients/s",
        file=out,
    )
    for name in COUNT_ORDER:
        print(f"  {name:<10} {counts.get(name, 0):>8,}", file=out)
    print(f"  {'total':<10} {counts['total']:>8,}", file=out)
    if stop := job.get("stop"):
        print(f"  stopped: {stop['code']}: {stop['reason']}", file=out)
    ok = counts["queued"] == 0 and counts["total"] == accepted
    if ok:
        print("Every accepted number has exactly one outcome; none is left queued.", file=out, flush=True)
    else:
        print(
            f"NOT OK: {counts['queued']:,} queued, {counts['total']:,} results for {accepted:,} accepted",
            file=out,
            flush=True,
        )
    return ok


def run(api: Api, recipients: Recipients, timeout_s: float, out: TextIO) -> bool:
    began = time.monotonic()
    accepted = submit(api, recipients, out)
    job = watch(api, accepted["job_id"], began, timeout_s, out)
    return report(job, accepted["accepted"], time.monotonic() - began, out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--api-url", default=DEFAULT_API_URL, help=f"the API's base URL (default {DEFAULT_API_URL})"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LOCAL_API_KEY", DEFAULT_API_KEY),
        help="x-api-key value (default $LOCAL_API_KEY or local-dev-key)",
    )
    parser.add_argument(
        "--recipients",
        type=int,
        default=10_000,
        metavar="N",
        help="valid numbers in the job, 1-99,990 (default 10,000)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="how long the job may take before the demo gives up (default 180)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the generated numbers")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter for a stack the demo starts itself, e.g. ClickatellApi=one",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.recipients <= 100_000 - 10:
        parser.error(
            "--recipients must be between 1 and 99,990 (the limit is 100,000 numbers with the extras)"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = sys.stdout
    api = Api(args.api_url, args.api_key)
    recipients = demo_recipients(args.recipients, random.Random(args.seed))
    try:
        if api.answering():
            print(f"Using the API at {api.base_url}", file=out, flush=True)
            ok = run(api, recipients, args.timeout, out)
        else:
            with own_stack(api, out, startup_timeout_s=120, parameters=tuple(args.parameter)):
                ok = run(api, recipients, args.timeout, out)
    except DemoError as error:
        print(f"\ndemo failed: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
