"""send_at through the running local stack: the job waits as `scheduled`, the local scheduler starts it
from its schedule in moto, and it is sent once its time has come."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import E2EStack, numbers

pytestmark = pytest.mark.e2e


def test_a_scheduled_job_starts_by_itself_after_send_at(sim_reset: E2EStack) -> None:
    stack = sim_reset
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    accepted = stack.send(
        {"to": numbers(3, start=7_300_000), "text": "e2e: later", "send_at": send_at.isoformat()}
    )
    job_id = accepted["job_id"]
    assert accepted["status"] == "scheduled"
    assert stack.job(job_id)["status"] == "scheduled"
    _, listed = stack.api("GET", "/v1/messages?status=scheduled")
    assert job_id in [job["job_id"] for job in listed["items"]]

    while datetime.now(UTC) < send_at - timedelta(milliseconds=200):
        assert stack.sim_requests_for(job_id) == []
        time.sleep(0.2)
    job = stack.wait_finished(job_id, timeout_s=60)

    assert job["status"] == "completed" and job["counts"]["submitted"] == 3
    assert len(stack.sim_requests_for(job_id)) == 1
