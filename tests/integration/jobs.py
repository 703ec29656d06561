"""Helpers the integration tests share: numbers, submitting a job and reading it back through the API."""

from __future__ import annotations

from typing import Any

from local.simulator import ClickatellSimulator
from local.stack import LocalStack

TEXT = "Your code is 1234"


def numbers(count: int, start: int = 1_000_000) -> list[str]:
    """Valid South African mobile numbers."""
    assert start + count <= 10_000_000
    return [f"2782{start + i:07d}" for i in range(count)]


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


def recipients(api: Any, job_id: str, **query: str) -> list[dict[str, Any]]:
    """Every listed recipient of a job, following next_token to the end."""
    items: list[dict[str, Any]] = []
    token = None
    for _ in range(1000):
        params = [("limit", "1000"), *query.items(), *([("next_token", token)] if token else [])]
        status, page = api.call("GET", f"/v1/messages/{job_id}/recipients", query=params)
        assert status == 200, page
        items.extend(page["items"])
        token = page["next_token"]
        if not token:
            return items
    raise AssertionError("pagination did not end")
