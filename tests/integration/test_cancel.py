# ruff: noqa: F811 - the wire fixture imported from tests.integration.faults is redefined as a parameter
"""Issues 5 and 16: cancelling a job (DELETE /v1/messages/{id}).

Pending chunks become `cancelled`, chunks already in flight finish normally, every number still ends in
exactly one item, and no cancelled number ever reaches Clickatell. The DELETE only records the stop, so
it answers at once (202 while numbers are left to settle, in the background); cancel is idempotent; a
finished job answers 409 and an unknown one 404.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.faults import SimRecorder, forget_job, job_items_of, recipient_items, wire  # noqa: F401
from tests.integration.jobs import get_job, numbers, simulator, submit, wait_for

OUTCOMES = ("submitted", "delivered", "failed", "expired", "unknown", "cancelled")


@contextlib.contextmanager
def count_dynamodb_requests() -> Iterator[list[str]]:
    """The DynamoDB operations this thread sends while the block runs (the senders run in others)."""
    from bulksms.adapters import aws

    seen: list[str] = []
    me = threading.get_ident()

    def record(model: Any, **_: Any) -> None:
        if threading.get_ident() == me:
            seen.append(model.name)

    events = aws.dynamodb().meta.client.meta.events
    events.register("before-call.dynamodb", record)
    try:
        yield seen
    finally:
        events.unregister("before-call.dynamodb", record)


@pytest.fixture
def background_sender(fresh: LocalStack) -> Iterator[Callable[[], Any]]:
    """`start()` runs the real sender over the send queue in the background, like the event source
    mapping (MaximumConcurrency pollers); it is stopped after the test whatever happens."""
    pollers: list[Any] = []

    def start() -> Any:
        poller = fresh.sender_poller().start()
        pollers.append(poller)
        return poller

    yield start
    for poller in pollers:
        poller.stop()


# ---- 2. cancel a big job while it is being sent ---------------------------------------------------------


@pytest.mark.timeout(180)
def test_cancel_ten_thousand_mid_send_every_number_once_none_cancelled_sent(
    api: Any,
    fresh: LocalStack,
    wire: SimRecorder,
    background_sender: Callable[[], Any],
    record_property: Any,
) -> None:
    """The sender runs in the background (MaximumConcurrency pollers, 8 threads); the DELETE comes as the
    first chunk reaches the simulator, so a few chunks are in flight and the rest pending. The DELETE's
    own work does not depend on the size (three DynamoDB calls); settling the rest in the background
    is most of the test's time (CANCEL_TEST_RECIPIENTS=n changes the size).
    Prints the figures (`-s`) and records them as junit properties."""
    total = int(os.environ.get("CANCEL_TEST_RECIPIENTS", "10000"))
    sim = simulator(fresh)
    sim.set_faults(latency_ms=250)  # a chunk stays in flight for a while: some are mid-send at the cancel
    to = numbers(total)
    started = time.monotonic()
    job_id = submit(api, to)
    try:
        check_cancel_mid_send(api, fresh, wire, background_sender, record_property, job_id, to, started)
    finally:
        forget_job(fresh, job_id)


def check_cancel_mid_send(
    api: Any,
    fresh: LocalStack,
    wire: SimRecorder,
    background_sender: Callable[[], Any],
    record_property: Any,
    job_id: str,
    to: list[str],
    started: float,
) -> None:
    total = len(to)
    sim = simulator(fresh)
    submitted_at = time.monotonic()
    poller = background_sender()
    wait_for(lambda: wire.started >= 1, 30, "the first chunk to reach the simulator", every_s=0.01)
    cancel_sent_at = time.monotonic()
    requests_at_delete = wire.started
    with count_dynamodb_requests() as delete_requests:
        status, answer = api.call("DELETE", f"/v1/messages/{job_id}")
    cancelled_at = time.monotonic()

    assert status == 202, answer  # numbers are left to settle: that happens in the background
    assert answer["job_id"] == job_id
    assert answer["stop"]["outcome"] == "cancelled", answer
    assert answer["status"] == "sending", answer
    answered = answer["counts"]
    assert answered["total"] == total and answered["queued"] > 0, answer
    assert sum(answered[s] for s in ("queued", *OUTCOMES)) == total, answered
    # The DELETE reads the job, records the stop and reads it back, whatever the job's size: it
    # answers within API Gateway's 29 s at 100,000 numbers too.
    assert delete_requests == ["GetItem", "UpdateItem", "GetItem"], delete_requests

    job = wait_for(lambda: (j := get_job(api, job_id))["status"] != "sending" and j, 120, "the job to finish")
    fresh.wait_for_empty_queue(timeout_s=30)
    poller.stop()
    finished_at = time.monotonic()

    assert job["status"] == "cancelled", job
    counts = job["counts"]
    assert counts["total"] == total and counts["queued"] == 0, counts
    assert counts["submitted"] + counts["cancelled"] + counts["failed"] + counts["unknown"] == total, counts
    assert counts["delivered"] == counts["expired"] == 0, counts
    # Chunks still in flight when the DELETE answered only add sent numbers.
    assert counts["cancelled"] >= answered["cancelled"]
    assert counts["submitted"] > 0 and counts["cancelled"] > 0, counts

    stored = job_items_of(fresh, job_id)
    recipients = [item for item in stored if item["sk"].startswith("R#")]
    by_number = {item["to"]: item for item in recipients}
    assert len(recipients) == total == len(by_number), f"{len(recipients)} items, {len(by_number)} numbers"
    assert set(by_number) == set(to)
    assert all(item["sk"] == f"R#{item['to']}" for item in recipients)
    tally = Counter(item["status"] for item in recipients)
    assert {s: n for s, n in counts.items() if s != "total" and n} == dict(tally), (counts, tally)
    chunks = [item for item in stored if item["sk"].startswith("CHUNK#")]
    assert {c["state"] for c in chunks} == {"done"}

    cancelled = {n for n, item in by_number.items() if item["status"] == "cancelled"}
    submitted = {n for n, item in by_number.items() if item["status"] == "submitted"}
    assert all(by_number[n].get("error_code") == "CANCELLED" for n in cancelled)
    posted = wire.posts_per_number()
    assert not cancelled & set(posted), "a cancelled number reached the simulator"
    assert set(posted) == submitted  # no fault injected: everything POSTed was accepted
    assert max(posted.values()) == 1
    stats = sim.stats()
    assert stats["recipients_accepted"] == counts["submitted"] == len(submitted)
    assert stats["duplicate_sends"] == 0

    figures = {
        "recipients": total,
        "sent": counts["submitted"],
        "cancelled": counts["cancelled"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "simulator_requests_when_delete_sent": requests_at_delete,
        "cancelled_in_delete_answer": answered["cancelled"],
        "status_in_delete_answer": answer["status"],
        "simulator_requests": stats["requests"],
        "simulator_recipients_accepted": stats["recipients_accepted"],
        "submit_s": round(submitted_at - started, 1),
        "first_send_after_s": round(cancel_sent_at - submitted_at, 1),
        "delete_took_s": round(cancelled_at - cancel_sent_at, 1),
        "finish_after_delete_s": round(finished_at - cancelled_at, 1),
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"\ncancel figures: {json.dumps(figures)}")
    for name, value in figures.items():
        record_property(name, value)

    # Asked again once everything settled: the same final counts, still 200.
    status, again = api.call("DELETE", f"/v1/messages/{job_id}")
    assert status == 200, again
    assert again["status"] == "cancelled" and again["counts"] == counts


# ---- 3. idempotent, 409 for a finished job, 404 for an unknown one ----------------------------------------


def test_cancel_before_sending_cancels_everything_and_is_idempotent(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    to = numbers(1500)
    job_id = submit(api, to)

    status, first = api.call("DELETE", f"/v1/messages/{job_id}")
    assert status == 202, first
    assert first["status"] == "queued" and first["counts"]["queued"] == 1500, first
    assert first["stop"] == {"outcome": "cancelled", "code": "CANCELLED", "reason": first["stop"]["reason"]}
    status, again = api.call("DELETE", f"/v1/messages/{job_id}")
    assert (status, again["counts"]) == (202, first["counts"])  # asking again changes nothing

    drain()  # the queue messages of a cancelled job settle its chunks and send nothing
    assert simulator(fresh).stats()["requests"] == 0
    settled = get_job(api, job_id)
    assert settled["status"] == "cancelled" and settled["finished_at"], settled
    assert settled["counts"] == {
        "total": 1500,
        "queued": 0,
        "submitted": 0,
        "delivered": 0,
        "failed": 0,
        "expired": 0,
        "unknown": 0,
        "cancelled": 1500,
    }

    for _ in range(2):
        status, again = api.call("DELETE", f"/v1/messages/{job_id}")
        assert status == 200, again
        assert again["status"] == "cancelled"
        assert again["counts"] == settled["counts"]
        assert again["finished_at"] == settled["finished_at"]

    items = recipient_items(fresh, job_id)
    assert sorted(item["to"] for item in items) == to
    assert {item["status"] for item in items} == {"cancelled"}


def test_cancel_of_a_completed_job_is_409_and_changes_nothing(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    job_id = submit(api, numbers(700))
    drain()
    before = get_job(api, job_id)
    assert before["status"] == "completed"

    status, answer = api.call("DELETE", f"/v1/messages/{job_id}")

    assert status == 409, answer
    assert answer["error"]["code"] == "job_finished"
    assert (
        "completed" in answer["error"]["message"]
        and "nothing is left to cancel" in answer["error"]["message"]
    )
    after = get_job(api, job_id)
    assert after == before
    assert "stop" not in after or after["stop"] is None


def test_cancel_of_an_unknown_job_is_404(api: Any) -> None:
    status, answer = api.call("DELETE", f"/v1/messages/{'0' * 32}")
    assert status == 404, answer
    assert answer["error"]["code"] == "not_found"

    status, answer = api.call("DELETE", "/v1/messages/not-a-job-id")
    assert status == 400, answer  # the id's shape is checked before any lookup


def test_cancel_of_a_job_stopped_by_an_account_error_is_409(api: Any, fresh: LocalStack, drain: Any) -> None:
    simulator(fresh).set_faults(auth_fail=True)  # Clickatell answers ERR: 001 to every send
    job_id = submit(api, numbers(1300))
    drain()
    before = get_job(api, job_id)
    assert before["status"] == "failed" and before["stop"]["code"] == "001", before

    status, answer = api.call("DELETE", f"/v1/messages/{job_id}")

    assert status == 409, answer
    assert answer["error"]["code"] == "job_finished"
    assert "failed" in answer["error"]["message"]
    assert get_job(api, job_id) == before
