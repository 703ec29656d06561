"""Phase 5: a job through the local stack over HTTP, as a client would send it.

The stack runs in its own process on free ports: `python -m bench.stack_probe`, which is
`python -m local.run` (same main) with counters for the cost model (see bench.stack_probe). A small
job first loads every handler and client; then the measured job (no delivery callbacks) is POSTed and
its status polled until it is finished: recipients/s from the POST to the finished status. A
small job asking for delivery callbacks (level 3: an intermediate and a final status per recipient),
run before the measured one and followed until every callback has been applied, gives the callback
path's share of the cost.
Counter snapshots are taken before and after each job; the differences are what the job cost.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3

from bench.config import MESSAGE_TEXT, BenchConfig, numbers
from bench.procs import PYTHON, Child, child_env, spawn

Progress = Callable[[str], None]
API_KEY = "bench-key"
_FINISHED = ("completed", "failed", "cancelled")


class StackClient:
    def __init__(self, child: Child, stats_file: Path, api_url: str, sim_url: str) -> None:
        self.child = child
        self.stats_file = stats_file
        self.api_url = api_url
        self.sim_url = sim_url
        self.http = urllib3.PoolManager(num_pools=2, maxsize=2, timeout=urllib3.Timeout(connect=5, read=120))
        self._sequence = 0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        answer = self.http.request(
            method,
            f"{self.api_url}{path}",
            body=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "x-api-key": API_KEY},
            retries=False,
        )
        return answer.status, json.loads(answer.data) if answer.data else None

    def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads(self.http.request("GET", f"{self.sim_url}/_sim/stats").data)
        return stats

    def snapshot(self) -> dict[str, Any]:
        self.child.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data: dict[str, Any] = json.loads(self.stats_file.read_text())
            except (OSError, ValueError):
                data = {}
            if data.get("sequence", 0) > self._sequence:
                self._sequence = data["sequence"]
                data["log_bytes"] = self.child.log.stat().st_size
                data["sim"] = self.sim_stats()
                return data
            time.sleep(0.02)
        raise RuntimeError(f"the stack probe wrote no snapshot:\n{self.child.log_tail()}")

    def submit(self, to: list[str], callback: int = 0) -> tuple[str, float]:
        body: dict[str, Any] = {"to": to, "text": MESSAGE_TEXT}
        if callback:
            body["callback"] = callback
        start = time.perf_counter()
        status, answer = self.call("POST", "/v1/messages", body)
        if status != 202:
            raise RuntimeError(f"POST /v1/messages answered {status}: {answer}")
        return str(answer["job_id"]), time.perf_counter() - start

    def wait_finished(self, job_id: str, timeout_s: float, poll_s: float = 0.1) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status, job = self.call("GET", f"/v1/messages/{job_id}")
            if status == 200 and job["status"] in _FINISHED:
                return dict(job)
            time.sleep(poll_s)
        raise TimeoutError(f"job {job_id} not finished after {timeout_s} s:\n{self.child.log_tail()}")


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Counter differences between two snapshots (sizes and sim stats as of `after`)."""
    out: dict[str, Any] = {}
    for key in ("invocations", "seconds", "records", "calls", "wru", "rru"):
        a, b = after.get(key, {}), before.get(key, {})
        out[key] = {k: round(a[k] - b.get(k, 0), 6) for k in a if a[k] - b.get(k, 0)}
    out["max_seconds"] = after.get("max_seconds", {})
    out["sizes"] = after.get("sizes", {})
    out["log_bytes"] = after["log_bytes"] - before["log_bytes"]
    out["wall_seconds"] = round(after["time"] - before["time"], 3)
    sim_a, sim_b = after["sim"], before["sim"]
    out["sim"] = {
        k: sim_a[k] - sim_b.get(k, 0)
        for k in ("requests", "recipients_accepted", "duplicate_sends", "callbacks_sent", "callbacks_failed")
        if isinstance(sim_a.get(k), int)
    }
    return out


def measure(workdir: Path, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    stats_file = workdir / "stack-stats.json"
    env = child_env({"BENCH_STATS_FILE": str(stats_file), "LOCAL_LOG_LEVEL": "WARNING"})
    env.pop("SIM_FAULTS", None)
    child = spawn(
        "stack",
        [
            PYTHON,
            "-m",
            "bench.stack_probe",
            "--host",
            "127.0.0.1",
            "--api-port",
            "0",
            "--moto-port",
            "0",
            "--sim-port",
            "0",
            "--api-key",
            API_KEY,
            "--sweep-every",
            "3600",
        ],
        workdir,
        r"(?m)^\s+API\s+(http://[\d.]+:\d+)",
        env=env,
        timeout_s=120,
    )
    try:
        banner = child.log.read_text()
        sim = re.search(r"Clickatell sim\s+(http://[\d.]+:\d+)", banner)
        if not sim:
            raise RuntimeError(f"no simulator URL in the stack's banner:\n{banner}")
        stack = StackClient(child, stats_file, child.url, sim.group(1))
        progress(f"  local stack up: API {stack.api_url}, simulator {stack.sim_url}")

        warm_id, _ = stack.submit(numbers(cfg.chunk_size, start=8_000_000))
        stack.wait_finished(warm_id, 120)
        callbacks = _callback_job(stack, cfg, progress)

        before = stack.snapshot()
        to = numbers(cfg.e2e_recipients, start=8_100_000)
        start = time.perf_counter()
        job_id, post_seconds = stack.submit(to)
        job = stack.wait_finished(job_id, 600)
        seconds = time.perf_counter() - start
        after = stack.snapshot()
        counts = job["counts"]
        if job["status"] != "completed" or counts["submitted"] != cfg.e2e_recipients:
            raise RuntimeError(f"e2e job ended {job['status']} with counts {counts}")
        send = diff(after, before)
        rate = cfg.e2e_recipients / seconds
        progress(
            f"  e2e {cfg.e2e_recipients:,} recipients: {rate:,.0f} recipients/s ({seconds:.1f} s, "
            f"API answered in {post_seconds:.2f} s, "
            f"{send['invocations'].get('SenderFunction', 0)} sender invocations)"
        )

        return {
            "recipients": cfg.e2e_recipients,
            "seconds": round(seconds, 3),
            "post_seconds": round(post_seconds, 3),
            "recipients_per_s": round(rate, 1),
            "job_counts": counts,
            "send": send,
            "callbacks": callbacks,
        }
    finally:
        child.stop()


def _callback_job(stack: StackClient, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    """A job asking for delivery reports (level 3: an intermediate and a final one per number), from
    its POST until every final report is applied to its counts. Reports per second are every report
    the simulator delivered (answered 2xx) over that whole time, sending included; the stack's peak
    memory is its high-water RSS (moto, simulator and functions are one process)."""
    before = stack.snapshot()
    sim_before = stack.sim_stats()
    n = cfg.callback_recipients
    start = time.perf_counter()
    job_id, _ = stack.submit(numbers(n, start=9_000_000), callback=cfg.callback_level)
    finished = stack.wait_finished(job_id, 600)
    sent_s = time.perf_counter() - start
    deadline = time.monotonic() + 1200
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        sim = stack.sim_stats()
        _, job = stack.call("GET", f"/v1/messages/{job_id}")
        if sim.get("callbacks_pending", 0) == 0 and job["counts"]["delivered"] == n:
            break
        time.sleep(0.2)
    else:
        raise TimeoutError(f"callbacks of job {job_id} not applied: {job.get('counts')}, {stack.sim_stats()}")
    seconds = time.perf_counter() - start
    after = stack.snapshot()
    out = diff(after, before)
    reports = int(stack.sim_stats()["callbacks_sent"]) - int(sim_before.get("callbacks_sent", 0))
    out["recipients"] = n
    out["callback_level"] = cfg.callback_level
    out["job_counts"] = job["counts"]
    out["job_status_when_sent"] = finished["status"]
    out["reports"] = reports
    out["seconds"] = round(seconds, 3)
    out["send_seconds"] = round(sent_s, 3)
    out["reports_applied_after_sending_s"] = round(seconds - sent_s, 3)
    out["reports_per_s"] = round(reports / seconds, 1)
    out["stack_peak_rss_mb"] = stack.child.peak_rss_mb()
    progress(
        f"  delivery reports: {reports:,} for {n:,} recipients at level {cfg.callback_level} in "
        f"{seconds:.1f} s = {out['reports_per_s']:,.0f}/s (sent in {sent_s:.1f} s), all "
        f"{job['counts']['delivered']:,} delivered; stack peak RSS {out['stack_peak_rss_mb']:,.0f} MB"
    )
    return out
