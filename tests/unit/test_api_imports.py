"""The API handler's import loads only what its job routes share; what one route alone needs is imported
by that route (bench phase 3 times the import). Checked in a fresh interpreter, as a cold start is."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each is imported by the routes that need it: send (idempotency, submission, the numbers and the text
# encoding), cancel (the lifecycle, attempts and the schedule), the suppression list's routes.
DEFERRED = (
    "phonenumbers",
    "gsm0338",
    "bulksms.idempotent",
    "bulksms.service.submission",
    "bulksms.domain.numbers",
    "bulksms.domain.encoding",
    "bulksms.service.cancellation",
    "bulksms.service.lifecycle",
    "bulksms.domain.attempts",
    "bulksms.service.scheduling",
    "bulksms.adapters.scheduler",
    "bulksms.service.suppressions",
    "bulksms.adapters.suppressions",
)
# What every job route uses: loaded, so the import above really ran.
SHARED = ("boto3", "bulksms.adapters.store", "bulksms.models", "bulksms.domain.message")
_CHILD = """
import json, sys
sys.path[:0] = {paths!r}
import app
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_api_leaves_what_one_route_needs_to_that_route() -> None:
    assert all(importlib.util.find_spec(name) for name in DEFERRED)  # a renamed module fails here
    paths = [str(ROOT / "layers" / "core"), str(ROOT / "functions" / "api")]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(paths=paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert set(SHARED) <= loaded
    assert sorted(loaded.intersection(DEFERRED)) == []
