"""Phase 3: cold start. Importing each handler module in a fresh interpreter, against `import boto3`
alone in a fresh interpreter, median of several runs each.

Each child puts the layer (layers/core) and the function's code directory on sys.path as Lambda does
(/opt/python and /var/task), gets the environment the template gives every function, and times only
its import statement (wall and CPU time); the parent also notes each child's whole wall time. The
goal is judged on wall time; the CPU-time ratio is printed beside it as a check on a busy machine.
The modules take turns, so a slow moment of the machine does not land on one of them only; a first
round compiles the bytecode and is not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench.config import BenchConfig
from bench.procs import LAYER, PYTHON, ROOT

Progress = Callable[[str], None]
HANDLERS = ("api", "sender", "callbacks", "sweeper")
BASELINE = "boto3"

_CHILD = """
import sys, time, json
sys.path[:0] = {paths!r}
start, cpu = time.perf_counter(), time.process_time()
import {module}
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({{"seconds": seconds, "cpu": cpu, "modules": len(sys.modules)}}))
"""


def lambda_environment() -> dict[str, str]:
    """The template's function environment with placeholder physical names, plus what Lambda sets."""
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    refs = {
        "Table": "bulksms-table",
        "SendQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/bulksms-send",
        "ClickatellSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bulksms/clickatell",
        "CallbackTokenSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bulksms/token",
        "ScheduleGroup": "bulksms-schedules",
        "SchedulerRole.Arn": "arn:aws:iam::123456789012:role/bulksms-scheduler",
        "SendQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:bulksms-send",
        "SendDeadLetterQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:bulksms-send-dlq",
        "WebhookQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/bulksms-webhooks",
        "WebhookSigningSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bulksms/webhook",
    }
    env: dict[str, str] = {}
    for function in template.functions():
        env.update(template.function_environment(function, refs))
    env.update(
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # placeholders: nothing is called
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
    )
    return env


def _child_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(lambda_environment())
    return env


def _import_once(name: str, env: dict[str, str]) -> tuple[float, float, float, int]:
    if name == BASELINE:
        paths, module = [], "boto3"
    else:
        paths, module = [str(LAYER), str(ROOT / "functions" / name)], "app"
    code = _CHILD.format(paths=paths, module=module)
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"importing {name} failed:\n{done.stderr[-2000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return float(answer["seconds"]), float(answer["cpu"]), wall, int(answer["modules"])


def measure(cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    env = _child_env()
    names = (BASELINE, *HANDLERS)
    imports: dict[str, list[float]] = {n: [] for n in names}
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    modules: dict[str, int] = {}
    first = 1 if cfg.smoke else 0  # a smoke run skips the uncounted warm-up round
    for round_index in range(first, cfg.cold_runs + 1):
        order = names if round_index % 2 == 0 else tuple(reversed(names))
        for name in order:
            seconds, cpu, wall, count = _import_once(name, env)
            if round_index == 0:
                continue  # bytecode compiled, file cache warm: not counted
            imports[name].append(seconds)
            cpus[name].append(cpu)
            walls[name].append(wall)
            modules[name] = count
        if round_index:
            progress(
                f"  cold start run {round_index}/{cfg.cold_runs}: "
                + ", ".join(f"{n} {imports[n][-1] * 1000:.0f} ms" for n in names)
            )
    medians = {n: statistics.median(v) for n, v in imports.items()}
    cpu_medians = {n: statistics.median(v) for n, v in cpus.items()}
    worst = max(HANDLERS, key=lambda n: medians[n])
    return {
        "runs": cfg.cold_runs,
        "import_ms_median": {n: round(medians[n] * 1000, 1) for n in names},
        "import_ms_all": {n: [round(s * 1000, 1) for s in v] for n, v in imports.items()},
        "process_wall_ms_median": {n: round(statistics.median(v) * 1000, 1) for n, v in walls.items()},
        "modules_loaded": modules,
        "ratio_by_handler": {n: round(medians[n] / medians[BASELINE], 3) for n in HANDLERS},
        # CPU time of the import: what the wall time would be on an idle machine; a check on noise.
        "import_cpu_ms_median": {n: round(cpu_medians[n] * 1000, 1) for n in names},
        "cpu_ratio_by_handler": {n: round(cpu_medians[n] / cpu_medians[BASELINE], 3) for n in HANDLERS},
        "worst_handler": worst,
        "ratio": round(medians[worst] / medians[BASELINE], 4),
    }
