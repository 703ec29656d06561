"""What a fresh interpreter loads, as a cold start would: the test process itself has loaded far more."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_CHILD = """
import json, sys
sys.path[:0] = {paths!r}
{code}
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(code: str, *paths: Path) -> set[str]:
    """Every module loaded once `code` ran in a new interpreter with `paths` first on sys.path."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(paths=[str(path) for path in paths], code=code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))
