"""A service of the local stack in a child process of its own (moto, the simulator): started, read
until it prints its ready line, and stopped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ChildProcess:
    """`python -m <module> <args>`, ready once its first line of output matches `ready`."""

    def __init__(self, module: str, args: list[str], ready: str, what: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops its children
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        match = re.match(ready, line)
        if not match:
            self._process.kill()
            raise RuntimeError(f"{what}'s process did not start (it printed {line!r})")
        self.ready = match

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
