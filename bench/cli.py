"""`python -m bench`: run every phase, print a table, write bench/results.json.

Phases (a progress line each, and one per round):
  1  send path: the sender's code path with its DynamoDB writes vs the same POSTs and writes done
     the cheapest way (simulator in its own process; DynamoDB answered at botocore's HTTP layer),
     and Store.put_results vs moto (moto in its own process)
  2  connection reuse: pooled keep-alive vs a new connection per POST
  3  cold start: each handler's import vs `import boto3`, fresh interpreters
  4  API at scale: a 100,000-recipient POST /v1/messages through the real handler vs phonenumbers alone
  4b the same POST with one number in ten on the suppression list, with vs without the check
  5  end to end: a job through the local stack vs moto's own BatchWriteItem rate
  6  cost model per million recipients, from what phase 5 counted
  7  rate cap: five jobs at once under MaxSendRate; the busiest 10 s the simulator saw vs the cap
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import LAYER, ROOT

PHASES = ("send", "connections", "tls", "store", "moto", "api", "suppression", "cold", "e2e", "cost", "rate")
DEFAULT_OUT = ROOT / "bench" / "results.json"
SMOKE_OUT = ROOT / "bench" / "results-smoke.json"

# The keys every results file has (tests/bench checks them), and the goals of design.md.
HEADLINE_KEYS = (
    "send_with_writes_vs_baseline",
    "send_recipients_per_s",
    "baseline_recipients_per_s",
    "send_with_writes_vs_baseline_one",
    "send_one_recipients_per_s",
    "store_put_results_items_per_s",
    "pooled_vs_new_connection",
    "pooled_vs_new_connection_tls",
    "import_vs_boto3",
    "api_100k_seconds",
    "api_100k_peak_mb",
    "api_100k_with_suppression_seconds",
    "e2e_recipients_per_s",
    "moto_batch_write_items_per_s",
    "dlr_reports_per_s",
    "dlr_stack_peak_mb",
    "cost_per_million_usd",
    "rate_cap_ratio",
)


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def progress(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the harness, not the product")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {DEFAULT_OUT})")
    parser.add_argument("--only", default=",".join(PHASES), help=f"subset of {','.join(PHASES)}")
    parser.add_argument("--recipients", type=int, default=None, help="phase 1 recipients (default 300000)")
    parser.add_argument("--threads", type=int, default=None, help="sender threads (default: template's)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per side (default 5)")
    parser.add_argument("--e2e-recipients", type=int, default=None, help="phase 5 recipients (default 50000)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-minute load average to fall below "
        "--quiet-load (a shared machine)",
    )
    parser.add_argument("--quiet-load", type=float, default=1.0)
    return parser.parse_args(argv)


def _environment(threads: int, chunk_size: int) -> None:
    """This process runs the product's send path: its settings come from the environment, as in Lambda."""
    for path in (str(ROOT), str(LAYER)):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ["SENDER_THREADS"] = str(threads)
    os.environ["CHUNK_SIZE"] = str(chunk_size)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bulksms")
    os.environ.pop("SIM_FAULTS", None)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _environment_paths()
    from bench import api_scale, cold_start, cost, dynamo, e2e, rate_cap, send_path
    from bench.config import BenchConfig, template_facts
    from bench.procs import start_moto, start_simulator, start_tls_simulator, stop_all

    overrides = {
        "send_recipients": args.recipients,
        "threads": args.threads,
        "send_rounds": args.rounds,
        "e2e_recipients": args.e2e_recipients,
    }
    cfg = BenchConfig.tiny(**overrides) if args.smoke else BenchConfig.full(**overrides)
    out_path = args.out or (SMOKE_OUT if args.smoke else DEFAULT_OUT)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    if unknown := only - set(PHASES):
        raise SystemExit(f"unknown phase(s): {', '.join(sorted(unknown))}")
    _environment(cfg.threads, cfg.chunk_size)
    facts = template_facts()
    if args.wait_quiet > 0:
        _wait_quiet(args.wait_quiet, args.quiet_load)
    clock = Clock()
    progress = clock.progress
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    workdir = Path(tempfile.mkdtemp(prefix="bulksms-bench-"))
    raw: dict[str, Any] = {}
    errors: dict[str, str] = {}
    loads: dict[str, float] = {}

    def phase(name: str, title: str, run: Callable[[], Any]) -> None:
        if name not in only:
            return
        load = round(os.getloadavg()[0], 2)
        loads[name] = load
        progress(f"phase {title} (load average {load})")
        started = time.monotonic()
        try:
            raw[name] = run()
        except Exception as error:  # one broken phase must not hide the others' figures
            errors[name] = f"{type(error).__name__}: {error}"
            progress(f"  FAILED: {errors[name]}")
            traceback.print_exc()
        else:
            progress(f"  done in {time.monotonic() - started:.1f} s")

    progress(
        f"bench {'SMOKE ' if cfg.smoke else ''}run: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, "
        f"{cfg.threads} sender threads, {cfg.chunk_size}-number POSTs, load average {load_at_start}; "
        f"logs in {workdir}"
    )
    try:
        if only & {"send", "connections"}:
            simulator = start_simulator(workdir)
            progress(f"simulator process {simulator.pid} on {simulator.url}")
            try:
                phase(
                    "send",
                    f"1 send path and writes: {cfg.send_recipients:,} recipients, ours vs baseline, http/one",
                    lambda: send_path.send_with_writes_vs_baseline(simulator.url, cfg, progress),
                )
                phase(
                    "connections",
                    f"2 connection reuse: {cfg.conn_recipients:,} recipients, pooled vs new",
                    lambda: send_path.pooled_vs_new_connection(simulator.url, cfg, progress),
                )
            finally:
                simulator.stop()
        if "tls" in only:
            tls_sim, cert = start_tls_simulator(workdir)
            progress(f"TLS simulator process {tls_sim.pid} on {tls_sim.url}")
            trusted = os.environ.get("SSL_CERT_FILE")
            os.environ["SSL_CERT_FILE"] = str(cert)  # what urllib3's default context trusts
            try:
                phase(
                    "tls",
                    f"2b connection reuse over TLS: {cfg.conn_recipients:,} recipients",
                    lambda: send_path.pooled_vs_new_connection(tls_sim.url, cfg, progress),
                )
            finally:
                tls_sim.stop()
                if trusted is None:
                    os.environ.pop("SSL_CERT_FILE", None)
                else:
                    os.environ["SSL_CERT_FILE"] = trusted
        if only & {"store", "moto", "api", "suppression"}:
            moto = start_moto(workdir)
            progress(f"moto process {moto.pid} on {moto.url}")
            try:
                from local.aws_env import apply_environment, client_environment

                apply_environment(client_environment(moto.url))
                phase(
                    "store",
                    f"1b store writes: Store.put_results, {cfg.store_items:,} items against moto",
                    lambda: dynamo.store_put_results(moto.url, cfg, progress),
                )
                phase(
                    "moto",
                    f"5a moto's own BatchWriteItem rate: {cfg.e2e_recipients:,} items",
                    lambda: dynamo.moto_batch_write(moto.url, cfg, cfg.e2e_recipients, progress),
                )
                phase(
                    "api",
                    f"4 API at scale: {cfg.api_recipients:,} recipients through the API handler",
                    lambda: api_scale.measure(
                        moto.url, dynamo.provision_tables(moto.url, "bench-api"), cfg, progress
                    ),
                )
                phase(
                    "suppression",
                    f"4b API with suppressions: {cfg.api_recipients:,} recipients, with vs without the check",
                    lambda: api_scale.measure_suppression(
                        moto.url, dynamo.provision_tables(moto.url, "bench-sup"), cfg, progress
                    ),
                )
            finally:
                moto.stop()
        phase(
            "cold",
            f"3 cold start: {cfg.cold_runs} fresh interpreters per module",
            lambda: cold_start.measure(cfg, progress),
        )
        phase(
            "e2e",
            f"5 end to end: {cfg.e2e_recipients:,} recipients through the local stack",
            lambda: e2e.measure(workdir, cfg, progress),
        )
        if "e2e" in raw:
            phase(
                "cost",
                "6 cost model per million recipients",
                lambda: cost.model(raw["e2e"], facts.memory_mb, threads=facts.sender_threads),
            )
        elif "cost" in only:
            errors["cost"] = "needs the e2e phase"
        phase(
            "rate",
            f"7 rate cap: {cfg.rate_cap_jobs} jobs x {cfg.rate_cap_recipients:,} at MaxSendRate "
            f"{cfg.rate_cap_per_s}/s",
            lambda: rate_cap.measure(workdir, cfg, progress),
        )
    finally:
        stop_all()
        if args.keep_logs or errors:
            progress(f"child logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results = assemble(raw, errors, cfg, facts, clock.elapsed(), load_at_start)
    results["machine"]["load_average_by_phase"] = loads
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    print()
    print(render_table(results))
    print(f"\nresults: {out_path}   total time: {results['duration_s']:.0f} s")
    return 1 if errors else 0


def _wait_quiet(limit_s: float, load: float) -> None:
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= load and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: load average {os.getloadavg()[0]:.2f} >= {load}", flush=True)
        time.sleep(15)


def _environment_paths() -> None:
    for path in (str(ROOT), str(LAYER)):
        if path not in sys.path:
            sys.path.insert(0, path)


# ------------------------------------------------------------------------------------------ results


def _get(raw: dict[str, Any], *path: str) -> Any:
    value: Any = raw
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def assemble(
    raw: dict[str, Any],
    errors: dict[str, str],
    cfg: Any,
    facts: Any,
    duration: float,
    load_at_start: list[float] | None = None,
) -> dict[str, Any]:
    api_memory = facts.memory_mb.get("ApiFunction")
    headline = {
        "send_with_writes_vs_baseline": _get(raw, "send", "http", "ratio"),
        "send_recipients_per_s": _get(raw, "send", "http", "ours", "recipients_per_s"),
        "baseline_recipients_per_s": _get(raw, "send", "http", "baseline", "recipients_per_s"),
        "send_with_writes_vs_baseline_one": _get(raw, "send", "one", "ratio"),
        "send_one_recipients_per_s": _get(raw, "send", "one", "ours", "recipients_per_s"),
        "baseline_one_recipients_per_s": _get(raw, "send", "one", "baseline", "recipients_per_s"),
        "store_put_results_items_per_s": _get(raw, "store", "items_per_s"),
        "pooled_vs_new_connection": _get(raw, "connections", "ratio"),
        "pooled_recipients_per_s": _get(raw, "connections", "pooled", "recipients_per_s"),
        "new_connection_recipients_per_s": _get(
            raw, "connections", "new_connection_per_post", "recipients_per_s"
        ),
        "pooled_vs_new_connection_tls": _get(raw, "tls", "ratio"),
        "import_vs_boto3": _get(raw, "cold", "ratio"),
        "import_worst_handler": _get(raw, "cold", "worst_handler"),
        "api_recipients": cfg.api_recipients,
        "api_100k_seconds": _get(raw, "api", "seconds"),
        "api_100k_peak_mb": _get(raw, "api", "peak_rss_mb"),
        "api_100k_tracemalloc_peak_mb": _get(raw, "api", "tracemalloc_peak_mb"),
        "api_vs_bare_phonenumbers": _get(raw, "api", "vs_bare_phonenumbers"),
        "api_100k_with_suppression_seconds": _get(raw, "suppression", "with_check_seconds"),
        "api_100k_without_suppression_check_seconds": _get(raw, "suppression", "without_check_seconds"),
        "api_suppression_check_added_seconds": _get(raw, "suppression", "added_seconds"),
        "e2e_recipients_per_s": _get(raw, "e2e", "recipients_per_s"),
        "moto_batch_write_items_per_s": _get(raw, "moto", "items_per_s"),
        "dlr_recipients": cfg.callback_recipients,
        "dlr_reports_per_s": _get(raw, "e2e", "callbacks", "reports_per_s"),
        "dlr_stack_peak_mb": _get(raw, "e2e", "callbacks", "stack_peak_rss_mb"),
        "cost_per_million_usd": _get(raw, "cost", "cost_per_million_usd"),
        "rate_cap_ratio": _get(raw, "rate", "ratio"),
    }
    goals = {
        "send_with_writes_vs_baseline": (">=", 0.85),
        "send_with_writes_vs_baseline_one": (">=", 0.85),
        "pooled_vs_new_connection": (">=", 1.3),
        "pooled_vs_new_connection_tls": (">=", 1.3),
        "import_vs_boto3": ("<=", 2.0),
        "api_100k_seconds": ("<=", 10.0),
        "api_100k_peak_mb": ("<", float(api_memory or 0)),
        "dlr_reports_per_s": (">=", 500.0),
        "dlr_stack_peak_mb": ("<", 1536.0),
        "cost_per_million_usd": ("<=", 2.0),
        "rate_cap_ratio": ("<=", 1.1),
        "api_suppression_check_added_seconds": ("<=", 2.0),
    }
    checked = {}
    for key, (op, limit) in goals.items():
        value = headline.get(key)
        met = None
        if value is not None:
            met = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
        checked[key] = {"goal": f"{op} {limit:g}", "value": value, "met": met}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": cfg.smoke,
        "duration_s": round(duration, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": asdict(cfg),
        **headline,
        "goals": checked,
        "goals_met": all(g["met"] for g in checked.values() if g["met"] is not None) and not errors,
        "raw": raw,
        "errors": errors,
    }


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def render_table(results: dict[str, Any]) -> str:
    raw, goals = results["raw"], results["goals"]

    def verdict(key: str) -> str:
        met = goals.get(key, {}).get("met")
        mark = "-" if met is None else ("MET" if met else "MISSED")
        return f"{goals[key]['goal']:<8} {mark}" if key in goals else ""

    rows: list[tuple[str, str, str, str, str]] = []
    for provider, key in (
        ("http", "send_with_writes_vs_baseline"),
        ("one", "send_with_writes_vs_baseline_one"),
    ):
        send = _get(raw, "send", provider) or {}
        rows.append(
            (
                f"1 send path with its writes, {provider} (recipients/s)",
                _fmt(_get(send, "ours", "recipients_per_s")),
                _fmt(_get(send, "baseline", "recipients_per_s")),
                _fmt(results[key], 3),
                verdict(key),
            )
        )
        rows.append(
            (
                "  client CPU (us/recipient)",
                _fmt(_get(send, "ours", "client_cpu_us_per_recipient"), 2),
                _fmt(_get(send, "baseline", "client_cpu_us_per_recipient"), 2),
                "",
                "",
            )
        )
    rows.append(
        (
            "1b Store.put_results vs moto (items/s)",
            _fmt(results["store_put_results_items_per_s"]),
            _fmt(results["moto_batch_write_items_per_s"]),
            _fmt(
                _ratio(results["store_put_results_items_per_s"], results["moto_batch_write_items_per_s"]), 3
            ),
            "",
        )
    )
    conn = raw.get("connections", {})
    rows.append(
        (
            "2 pooled vs new connection (recipients/s)",
            _fmt(_get(conn, "pooled", "recipients_per_s")),
            _fmt(_get(conn, "new_connection_per_post", "recipients_per_s")),
            _fmt(results["pooled_vs_new_connection"], 3),
            verdict("pooled_vs_new_connection"),
        )
    )
    tls = raw.get("tls", {})
    rows.append(
        (
            "2b same over TLS (recipients/s)",
            _fmt(_get(tls, "pooled", "recipients_per_s")),
            _fmt(_get(tls, "new_connection_per_post", "recipients_per_s")),
            _fmt(results["pooled_vs_new_connection_tls"], 3),
            verdict("pooled_vs_new_connection_tls"),
        )
    )
    cold = raw.get("cold", {})
    medians = cold.get("import_ms_median", {})
    for handler in ("api", "sender", "callbacks", "sweeper"):
        worst = handler == cold.get("worst_handler")
        rows.append(
            (
                f"3 import {handler} vs boto3 (ms)" + (" [worst]" if worst else ""),
                _fmt(medians.get(handler), 1),
                _fmt(medians.get("boto3"), 1),
                _fmt(cold.get("ratio_by_handler", {}).get(handler), 3),
                verdict("import_vs_boto3") if worst else "",
            )
        )
    cpu = cold.get("import_cpu_ms_median", {})
    if cpu:
        worst_cpu = cold.get("cpu_ratio_by_handler", {})
        rows.append(
            (
                "  same in CPU time, worst handler (ms)",
                _fmt(max(cpu.get(h, 0) for h in ("api", "sender", "callbacks", "sweeper")), 1),
                _fmt(cpu.get("boto3"), 1),
                _fmt(max(worst_cpu.values()), 3) if worst_cpu else "-",
                "(check on a busy machine)",
            )
        )
    api = raw.get("api", {})
    n = f"{results['api_recipients']:,}"
    rows.append(
        (
            f"4 API {n} recipients (s, vs phonenumbers)",
            _fmt(api.get("seconds"), 2),
            _fmt(api.get("bare_phonenumbers_seconds"), 2),
            _fmt(api.get("vs_bare_phonenumbers"), 2),
            verdict("api_100k_seconds"),
        )
    )
    rows.append(
        (
            "  warm second request (s)",
            _fmt(api.get("warm_seconds"), 2),
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "4 API peak RSS (MB, vs MemorySize)",
            _fmt(api.get("peak_rss_mb"), 0),
            _fmt(api.get("memory_size_mb"), 0),
            _fmt(_ratio(api.get("peak_rss_mb"), api.get("memory_size_mb")), 3),
            verdict("api_100k_peak_mb"),
        )
    )
    rows.append(
        (
            "  RSS delta / tracemalloc peak (MB)",
            _fmt(api.get("rss_delta_mb"), 0),
            _fmt(api.get("tracemalloc_peak_mb"), 0),
            "",
            "",
        )
    )
    suppression = raw.get("suppression", {})
    rows.append(
        (
            "4b API 1 in 10 suppressed: with/without check, added (s)",
            _fmt(suppression.get("with_check_seconds"), 2),
            _fmt(suppression.get("without_check_seconds"), 2),
            _fmt(suppression.get("added_seconds"), 2),
            verdict("api_suppression_check_added_seconds"),
        )
    )
    rows.append(
        (
            "5 e2e vs moto BatchWriteItem (per s)",
            _fmt(results["e2e_recipients_per_s"]),
            _fmt(results["moto_batch_write_items_per_s"]),
            _fmt(_ratio(results["e2e_recipients_per_s"], results["moto_batch_write_items_per_s"]), 3),
            "(no goal)",
        )
    )
    dlr = raw.get("e2e", {}).get("callbacks", {})
    if dlr:
        rows.append(
            (
                f"5b delivery reports/s, {dlr['recipients']:,} recipients at level {dlr['callback_level']}",
                _fmt(results["dlr_reports_per_s"]),
                "",
                "",
                ">= 500 (our goal 1,000)",
            )
        )
        rows.append(
            ("  stack peak RSS during it (MB)", _fmt(results["dlr_stack_peak_mb"]), "", "", "< 1,536")
        )
    rate = raw.get("rate", {})
    rows.append(
        (
            "7 rate cap: busiest 10 s (recipients/s, vs MaxSendRate)",
            _fmt(_ratio(rate.get("max_recipients_per_10s"), 10)),
            _fmt(rate.get("max_send_rate")),
            _fmt(results["rate_cap_ratio"], 3),
            verdict("rate_cap_ratio"),
        )
    )
    costs = raw.get("cost", {})
    if costs:
        for key, value in costs["cost_usd"].items():
            rows.append((f"6 cost/M recipients: {key}", f"${value:,.4f}", "", "", ""))
        rows.append(
            (
                "6 cost per million recipients (USD)",
                f"${costs['cost_per_million_usd']:,.2f}",
                "",
                "",
                f"prices {costs['region']} {costs['prices_as_of']}",
            )
        )
        per = costs["per_recipient"]
        rows.append(
            (
                "  per recipient: WRU / RRU / SQS req / Lambda inv",
                f"{per['dynamodb_wru']:.3f} / {per['dynamodb_rru']:.3f} / {per['sqs_requests']:.5f} / "
                f"{per['lambda_invocations']:.3f}",
                "",
                "",
                "",
            )
        )
        extras = costs["extras_not_in_total_usd"]
        rows.append(
            (
                "  not in total: logs / X-Ray / storage (USD)",
                f"${extras['cloudwatch_logs_ingestion']:.3f} / ${extras['xray_traces']:.3f} / "
                f"${extras['dynamodb_storage_and_pitr_for_retention']:.3f}",
                "",
                "",
                "",
            )
        )
    header = ("measurement", "ours", "baseline", "ratio", "goal")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    lines = [
        "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) if i < 4 else str(c)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    title = "bulksms bench" + (" (SMOKE: tiny sizes, ratios not meaningful)" if results["smoke"] else "")
    summary = ", ".join(
        f"{k} {'met' if g['met'] else 'MISSED'}" for k, g in goals.items() if g["met"] is not None
    )
    if results["errors"]:
        summary += "; ERRORS: " + "; ".join(f"{k}: {v}" for k, v in results["errors"].items())
    return "\n".join([title, *lines, "", f"goals: {summary}"])


def _ratio(a: Any, b: Any) -> float | None:
    if not a or not b:
        return None
    return float(a) / float(b)
