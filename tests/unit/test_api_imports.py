"""The API handler's import loads only what its job routes share; what one route alone needs is imported
by that route (bench phase 3 times the import). Checked in a fresh interpreter, as a cold start is."""

from __future__ import annotations

import importlib.util

from tests.unit.fresh_imports import ROOT, modules_loaded_by

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


def test_importing_the_api_leaves_what_one_route_needs_to_that_route() -> None:
    assert all(importlib.util.find_spec(name) for name in DEFERRED)  # a renamed module fails here
    loaded = modules_loaded_by("import app", ROOT / "layers" / "core", ROOT / "functions" / "api")
    assert set(SHARED) <= loaded
    assert sorted(loaded.intersection(DEFERRED)) == []
