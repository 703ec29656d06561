"""Phase 4: one `POST /v1/messages` with 100,000 recipients through the real API handler, against a
separate moto process provisioned from the template, next to a bare loop of `phonenumbers.parse` +
`is_valid_number` over the same numbers.

Each measurement runs in a fresh child process (`python -m bench.api_scale --child ...`) that loads
the handler the way the local stack does, with ApiFunction's environment, builds the API Gateway event
with `local.events.rest_api_event` and invokes it with `local.context.LocalContext`:
- `time`: the first (cold: boto3 clients made on the way) and a second (warm) invocation, wall time
  each, and the process's peak RSS during the first: Linux's high-water mark (VmHWM), reset just
  before the call, which is what Lambda reports as Max Memory Used; then the bare loop.
- `trace`: the first invocation again under tracemalloc, for the peak of Python allocations.
- `suppression`: with one number in ten on the suppression list, warm invocations with the check and,
  as the baseline, with the check left out (the same handler, its `check` replaced by a pass-through),
  alternating; the difference is what the batched BatchGetItem reads add to the POST (goal: <= 2 s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import MESSAGE_TEXT, BenchConfig, numbers
from bench.procs import PYTHON, ROOT, child_env

Progress = Callable[[str], None]
FUNCTION = "ApiFunction"
_START = 7_000_000  # this phase's numbers
SUPPRESSED_EVERY = 10  # one number in ten is on the list in the `suppression` mode
SUPPRESSION_ROUNDS = 2


# ------------------------------------------------------------------------------------------- parent


def _run_child(mode: str, endpoint: str, refs: dict[str, str], recipients: int) -> dict[str, Any]:
    args = [
        PYTHON,
        "-m",
        "bench.api_scale",
        "--child",
        "--mode",
        mode,
        "--endpoint",
        endpoint,
        "--refs",
        json.dumps(refs),
        "--recipients",
        str(recipients),
    ]
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"api_scale child ({mode}) failed:\n{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def measure_suppression(
    endpoint: str, refs: dict[str, str], cfg: BenchConfig, progress: Progress
) -> dict[str, Any]:
    """What the suppression check adds to a `POST /v1/messages` of `api_recipients` numbers."""
    answer = _run_child("suppression", endpoint, refs, cfg.api_recipients)
    progress(
        f"  API {cfg.api_recipients:,} recipients, {answer['suppressed']:,} of them suppressed: "
        f"{answer['with_check_seconds']:.2f} s with the check, {answer['without_check_seconds']:.2f} s "
        f"without; the check alone {answer['check_seconds']:.2f} s"
    )
    return {"recipients": cfg.api_recipients, **answer}


def measure(endpoint: str, refs: dict[str, str], cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    results: dict[str, Any] = {"recipients": cfg.api_recipients}
    for mode in ("time", "trace"):
        answer = _run_child(mode, endpoint, refs, cfg.api_recipients)
        results[mode] = answer
        if mode == "time":
            progress(
                f"  API {cfg.api_recipients:,} recipients: cold {answer['cold_seconds']:.2f} s, "
                f"warm {answer['warm_seconds']:.2f} s, peak RSS {answer['peak_rss_mb']:.0f} MB; "
                f"bare phonenumbers loop {answer['bare_seconds']:.2f} s"
            )
        else:
            progress(
                f"  API under tracemalloc: peak {answer['tracemalloc_peak_mb']:.0f} MB of Python objects"
            )
    timed = results["time"]
    results.update(
        seconds=timed["cold_seconds"],
        warm_seconds=timed["warm_seconds"],
        peak_rss_mb=timed["peak_rss_mb"],
        rss_delta_mb=timed["rss_delta_mb"],
        tracemalloc_peak_mb=results["trace"]["tracemalloc_peak_mb"],
        bare_phonenumbers_seconds=timed["bare_seconds"],
        vs_bare_phonenumbers=round(timed["cold_seconds"] / timed["bare_seconds"], 3),
        memory_size_mb=timed["memory_size_mb"],
    )
    return results


# -------------------------------------------------------------------------------------------- child


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


def _child(mode: str, endpoint: str, refs: dict[str, str], recipients: int) -> dict[str, Any]:
    import os

    from local.aws_env import LocalResources, apply_environment, client_environment, function_environment
    from local.context import LocalContext
    from local.events import rest_api_event
    from local.functions import load_handler
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    apply_environment(client_environment(endpoint))
    apply_environment(function_environment(template, LocalResources(endpoint, refs)))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    function = template.function(FUNCTION)
    handler = load_handler(function)

    to = numbers(recipients, start=_START)
    body = json.dumps({"to": to, "text": MESSAGE_TEXT}).encode()

    def event() -> dict[str, Any]:
        return rest_api_event(
            "POST",
            "/v1/messages",
            "/v1/messages",
            headers={"Content-Type": "application/json", "x-api-key": "bench-key"},
            body=body,
            api_key="bench-key",
        )

    def invoke(expect_suppressed: int = 0) -> tuple[float, dict[str, Any]]:
        request = event()
        context = LocalContext(function.logical_id, function.memory_mb, function.timeout_s)
        start = time.perf_counter()
        answer = handler(request, context)
        seconds = time.perf_counter() - start
        if answer.get("statusCode") != 202:
            raise RuntimeError(f"API answered {answer.get('statusCode')}: {str(answer.get('body'))[:500]}")
        counted = json.loads(answer["body"])
        expected = (recipients - expect_suppressed, expect_suppressed)
        if (counted["accepted"], counted["suppressed"]) != expected:
            raise RuntimeError(f"API accepted {counted['accepted']}, suppressed {counted['suppressed']}")
        return seconds, answer

    out: dict[str, Any] = {"memory_size_mb": function.memory_mb, "body_bytes": len(body)}
    # The handler's own output (one log line per request) goes to stderr, not into our JSON answer.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        if mode == "suppression":
            out.update(_suppression(to, invoke))
        elif mode == "trace":
            import tracemalloc

            tracemalloc.start()
            tracemalloc.reset_peak()
            invoke()
            out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        else:
            rss_before_kb = _proc_status_kb("VmRSS")
            exact = _reset_peak_rss()
            cold, _ = invoke()
            peak_kb = _proc_status_kb("VmHWM")
            warm, _ = invoke()
            import phonenumbers

            start = time.perf_counter()
            valid = sum(phonenumbers.is_valid_number(phonenumbers.parse("+" + n)) for n in to)
            bare = time.perf_counter() - start
            if valid != recipients:
                raise RuntimeError(f"bare loop: {valid} of {recipients} numbers valid")
            out.update(
                cold_seconds=round(cold, 4),
                warm_seconds=round(warm, 4),
                bare_seconds=round(bare, 4),
                rss_before_mb=round(rss_before_kb / 1024, 1),
                peak_rss_mb=round(peak_kb / 1024, 1),
                rss_delta_mb=round((peak_kb - rss_before_kb) / 1024, 1),
                peak_rss_exact=exact,
            )
    finally:
        sys.stdout = real_stdout
    return out


def _suppression(to: list[str], invoke: Callable[..., tuple[float, Any]]) -> dict[str, Any]:
    from bulksms import runtime
    from bulksms.adapters.suppressions import SuppressionTable
    from bulksms.domain.ports import Entry
    from bulksms.settings import settings

    listed = to[::SUPPRESSED_EVERY]
    SuppressionTable(settings().table_name).put_many(Entry(n, "bench", "api") for n in listed)
    cold, _ = invoke(len(listed))  # clients, pools and the handler's imports warmed up
    checked = runtime.suppressions()
    real_check = checked.check

    class Unchecked:
        def split(self, numbers: Any) -> tuple[list[str], int]:
            return list(numbers), 0

    def unchecked(expected: int) -> Unchecked:
        return Unchecked()

    with_check: list[float] = []
    without_check: list[float] = []
    for _ in range(SUPPRESSION_ROUNDS):  # alternating, so a busy moment of the machine hits both
        with_check.append(invoke(len(listed))[0])
        checked.check = unchecked  # type: ignore[method-assign,assignment]
        try:
            without_check.append(invoke(0)[0])
        finally:
            checked.check = real_check  # type: ignore[method-assign]
    start = time.perf_counter()
    _, suppressed = checked.check(len(to)).split(to)
    alone = time.perf_counter() - start
    if suppressed != len(listed):
        raise RuntimeError(f"the check found {suppressed} of {len(listed)} suppressed numbers")
    return {
        "suppressed": len(listed),
        "cold_seconds": round(cold, 4),
        "with_check_seconds": round(min(with_check), 4),
        "without_check_seconds": round(min(without_check), 4),
        "added_seconds": round(min(with_check) - min(without_check), 4),
        "check_seconds": round(alone, 4),
        "rounds": SUPPRESSION_ROUNDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_scale")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--mode", choices=("time", "trace", "suppression"), required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--refs", required=True)
    parser.add_argument("--recipients", type=int, required=True)
    args = parser.parse_args(argv)
    out = _child(args.mode, args.endpoint, json.loads(args.refs), args.recipients)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
