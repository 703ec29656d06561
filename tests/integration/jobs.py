"""Helpers the integration tests share: numbers, submitting a job and reading it back through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local.simulator import ClickatellSimulator
from local.stack import LocalStack

TEXT = "Your code is 1234"


def numbers(count: int, start: int = 1_000_000) -> list[str]:
    """Valid South African mobile numbers."""
    assert start + count <= 10_000_000
    return [f"2782{start + i:07d}" for i in range(count)]


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.02) -> Any:
    """Poll `condition` until it returns something true, and return that; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(every_s)
    return value


def simulator(stack: LocalStack) -> ClickatellSimulator:
    assert stack.simulator is not None
    return stack.simulator


def submit(api: Any, to: list[str], **extra: Any) -> str:
    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": TEXT, **extra})
    assert status == 202, accepted
    assert accepted["accepted"] == len(to)
    return str(accepted["job_id"])


def get_job(api: Any, job_id: str) -> dict[str, Any]:
    """The job view once the counts include every recipient change stored so far."""
    api.drain_streams()
    status, job = api.call("GET", f"/v1/messages/{job_id}")
    assert status == 200, job
    return dict(job)


def every_page(api: Any, path: str, limit: int = 1000, **query: str) -> list[dict[str, Any]]:
    """Every item of a paginated listing, following next_token to the end; no page holds more than
    `limit` items."""
    items: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):
        params = [("limit", str(limit)), *query.items(), *([("next_token", token)] if token else [])]
        status, page = api.call("GET", path, query=params)
        assert status == 200, page
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        token = page["next_token"]
        if not token:
            return items
    raise AssertionError("pagination did not end")


def recipients(api: Any, job_id: str, **query: str) -> list[dict[str, Any]]:
    """Every listed recipient of a job."""
    return every_page(api, f"/v1/messages/{job_id}/recipients", **query)
