"""The processes a bench run starts: the Clickatell simulator, a moto server and the local stack.

Each runs in its own interpreter so it never shares the GIL with the code being measured. Its output
goes to a log file (no pipe, so no reader thread in the measuring process); the address it listens on
is read from that log, so every port is a free one the child picked itself (port 0). Every child is
stopped by its own pid when the run ends, also on errors and Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core"
PYTHON = sys.executable

_running: list[Child] = []


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_mb(self) -> float:
        """The high-water resident memory (VmHWM) of the process and its children (the local stack's
        moto runs in one), in MB: the sum of each one's peak, so at least the peak they held at once."""
        return round(sum(_peak_rss_kb(pid) for pid in _process_tree(self.proc.pid)) / 1024, 1)

    def signal(self, signum: int) -> None:
        if self.alive():
            self.proc.send_signal(signum)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(ValueError):
            _running.remove(self)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _process_tree(pid: int) -> list[int]:
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pending.extend(int(child) for child in children.read_text().split())
    return tree


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0  # gone meanwhile
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc: peak memory is measured on Linux only")


def stop_all() -> None:
    for child in list(reversed(_running)):
        child.stop()


atexit.register(stop_all)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LAYER), str(ROOT), *filter(None, [env.get("PYTHONPATH", "")])])
    env.update(extra or {})
    return env


def spawn(
    name: str,
    args: list[str],
    workdir: Path,
    ready: str,
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Child:
    """Start `args` and wait until its log matches the regex `ready`; group 1 of it becomes `url`."""
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, env=env
        )
    child = Child(name, proc, log)
    _running.append(child)
    pattern = re.compile(ready)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if found := pattern.search(text):
            child.url = found.group(1) if pattern.groups else ""
            return child
        if not child.alive():
            break
        time.sleep(0.05)
    child.stop()
    raise RuntimeError(f"{name} did not start (exit {proc.returncode}):\n{child.log_tail()}")


def start_simulator(workdir: Path, *, name: str = "simulator") -> Child:
    """`python -m local.simulator --port 0` in its own process, no faults."""
    env = child_env()
    env.pop("SIM_FAULTS", None)
    return spawn(
        name,
        [PYTHON, "-m", "local.simulator", "--host", "127.0.0.1", "--port", "0"],
        workdir,
        r"listening on (http://[\d.]+:\d+)",
        env=env,
    )


def start_moto(workdir: Path, *, name: str = "moto") -> Child:
    """`python -m moto.server -H 127.0.0.1 -p 0` in its own process."""
    return spawn(
        name,
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        workdir,
        r"Running on (http://[\d.]+:\d+)",
        env=child_env(),
    )


def start_tls_simulator(workdir: Path, *, name: str = "tls-simulator") -> tuple[Child, Path]:
    """The simulator behind TLS (bench.tls_simulator) in its own process; returns it and its certificate."""
    from local.tls import make_certificate

    cert, key = make_certificate(workdir)
    child = spawn(
        name,
        [PYTHON, "-m", "bench.tls_simulator", "--cert", str(cert), "--key", str(key)],
        workdir,
        r"listening on (https://[\d.]+:\d+)",
        env=child_env(),
    )
    return child, cert
