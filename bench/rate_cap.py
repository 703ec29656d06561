"""Phase 7: MaxSendRate held with five jobs at once.

A local stack (`python -m local.run`, its own process, free ports) runs with small chunks, so one
chunk is a small part of ten seconds of budget (the cap admits at most rate x T + one chunk in any T
seconds). Five jobs are POSTed together and followed until all have finished, first with no cap (the
baseline: the stack's own rate, which the cap must be below to bind), then in a new stack with
`MaxSendRate`. The simulator's `max_recipients_per_10s` (the most recipients accepted in any sliding
10-second window) of the capped run over 10 x MaxSendRate is `rate_cap_ratio`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import BenchConfig, numbers
from bench.e2e import API_KEY, StackClient
from bench.procs import PYTHON, child_env, spawn

Progress = Callable[[str], None]
WINDOW_S = 10


def measure(workdir: Path, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    """The same five jobs without a cap first (the baseline: what the stack sends when nothing holds
    it back), then with MaxSendRate; the cap must bind, and hold."""
    uncapped = _run(workdir, cfg, 0, progress)
    capped = _run(workdir, cfg, cfg.rate_cap_per_s, progress)
    rate = cfg.rate_cap_per_s
    return {
        **capped,
        "ratio": round(capped["max_recipients_per_10s"] / (WINDOW_S * rate), 4),
        "uncapped": uncapped,
        "uncapped_vs_cap": round(uncapped["max_recipients_per_10s"] / (WINDOW_S * rate), 4),
    }


def _run(workdir: Path, cfg: BenchConfig, rate: int, progress: Progress) -> dict[str, Any]:
    jobs, per_job = cfg.rate_cap_jobs, cfg.rate_cap_recipients
    env = child_env({"LOCAL_LOG_LEVEL": "WARNING"})
    env.pop("SIM_FAULTS", None)
    child = spawn(
        f"rate-stack-{rate}",
        [
            PYTHON, "-m", "local.run", "--host", "127.0.0.1", "--api-port", "0", "--moto-port", "0",
            "--sim-port", "0", "--api-key", API_KEY, "--sweep-every", "3600",
            "--parameter", f"MaxSendRate={rate}", "--parameter", f"ChunkSize={cfg.rate_cap_chunk}",
        ],
        workdir,
        r"(?m)^\s+API\s+(http://[\d.]+:\d+)",
        env=env,
        timeout_s=120,
    )  # fmt: skip
    try:
        sim = re.search(r"Clickatell sim\s+(http://[\d.]+:\d+)", child.log.read_text())
        if not sim:
            raise RuntimeError(f"no simulator URL in the stack's banner:\n{child.log_tail()}")
        stack = StackClient(child, workdir / "unused-stats.json", child.url, sim.group(1))
        start = time.perf_counter()
        ids = [stack.submit(numbers(per_job, start=1_000_000 + i * per_job))[0] for i in range(jobs)]
        finished = [stack.wait_finished(job_id, 600) for job_id in ids]
        seconds = time.perf_counter() - start
        stats = stack.sim_stats()
        total = jobs * per_job
        if any(job["status"] != "completed" for job in finished) or stats["recipients_accepted"] != total:
            raise RuntimeError(f"rate-cap jobs ended {[j['status'] for j in finished]}, sim {stats}")
        progress(
            f"  {jobs} jobs x {per_job:,}, MaxSendRate {rate or 'none'}, {cfg.rate_cap_chunk}-number "
            f"chunks: {seconds:.1f} s, busiest 10 s {stats['max_recipients_per_10s']:,} recipients "
            f"({stats['max_recipients_per_10s'] / WINDOW_S:,.0f}/s), busiest second "
            f"{stats['max_recipients_per_s']:,}"
        )
        return {
            "max_send_rate": rate,
            "chunk_size": cfg.rate_cap_chunk,
            "jobs": jobs,
            "recipients": total,
            "seconds": round(seconds, 2),
            "mean_recipients_per_s": round(total / seconds, 1),
            "max_recipients_per_10s": stats["max_recipients_per_10s"],
            "max_recipients_per_s": stats["max_recipients_per_s"],
        }
    finally:
        child.stop()
