"""MaxSendRate: the token bucket shared through the table, and a sender handing chunks back to the
queue when the budget is spent (timing comes from a fake clock; the rate itself is measured by the
benchmark, `python -m bench --only rate`)."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from bulksms import runtime
from bulksms.adapters.clickatell import ClickatellClient
from bulksms.adapters.rate import RATE_KEY, SharedTokenBucket
from bulksms.service.pacing import send_message
from bulksms.service.sending import Sender
from bulksms.settings import settings

from local.stack import LocalStack
from tests.integration.faults import receive
from tests.integration.jobs import get_job, numbers, simulator, submit


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(round(seconds, 3))


def bucket(rate: float, clock: FakeClock, max_wait_s: float = 1.0) -> SharedTokenBucket:
    return SharedTokenBucket(
        settings().table_name, rate, max_wait_s=max_wait_s, clock=clock, sleep=clock.sleep
    )


def test_senders_book_back_to_back_slots_and_wait_for_theirs(fresh: LocalStack) -> None:
    clock = FakeClock()
    limiter = bucket(100, clock)  # 100 recipients/s: 50 numbers take 0.5 s of the budget

    def take(recipients: int) -> float:
        slot = limiter.acquire(recipients)
        if not slot.retry_after_s:
            limiter.wait(slot)
        return slot.retry_after_s

    assert take(50) == 0 and clock.slept == []  # [0, 0.5): at once
    assert take(50) == 0 and clock.slept == [0.5]  # [0.5, 1.0): waits for its slot
    assert take(50) == 0 and clock.slept == [0.5, 1.0]  # [1.0, 1.5): 1 s is the longest wait
    wait = take(50)  # would start 1.5 s from now: refused, nothing booked
    assert 0.5 <= wait <= 1.0 and clock.slept == [0.5, 1.0]
    clock.now += 1.5
    assert take(50) == 0 and clock.slept == [0.5, 1.0]  # its slot starts now


def book(limiter: SharedTokenBucket) -> float:
    slot = limiter.acquire(10)
    limiter.wait(slot)
    return slot.retry_after_s


def test_concurrent_senders_never_book_the_same_slot(fresh: LocalStack) -> None:
    clock = FakeClock()
    limiter = bucket(1000, clock, max_wait_s=3600)  # 10 numbers = 10 ms; everything fits in the wait
    answers: list[float] = []
    threads = [
        threading.Thread(target=lambda: answers.extend(book(limiter) for _ in range(15))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted = answers.count(0.0)  # a sender that kept losing the race is told to come back instead
    assert len(answers) == 120 and granted > 60
    # Every booking moved the shared time by exactly its own slot: no two were granted the same one.
    item = runtime.store().table.get_item(Key=RATE_KEY, ConsistentRead=True)["Item"]
    assert item["tat"] == Decimal(1_000_000 + granted * 10)
    assert sorted(clock.slept) == [round(i * 0.01, 3) for i in range(1, granted)]


def test_a_spent_budget_hands_the_chunks_back_delayed(api: Any, fresh: LocalStack) -> None:
    job_id = submit(api, numbers(1200))  # two chunks, one queue message
    (message,) = receive(fresh)
    # Another sender booked the next minute of the budget.
    runtime.store().table.put_item(Item={**RATE_KEY, "tat": Decimal(int((time.time() + 60) * 1000))})
    config = settings()
    sender = Sender(
        runtime.store(),
        ClickatellClient(config.clickatell_base_url, runtime.clickatell_credentials, attempts=1),
        runtime.executor(),
        lease_seconds=config.lease_seconds,
        min_time_to_start_ms=1000,
        rate=SharedTokenBucket(config.table_name, 1000),
    )
    body = json.loads(message["Body"])

    counts = send_message(sender, runtime.send_queue(), job_id, body["chunks"], lambda: 600_000)

    assert counts == {} and simulator(fresh).stats()["requests"] == 0
    assert get_job(api, job_id)["counts"]["queued"] == 1200  # nothing claimed, nothing lost
    attributes = fresh._sqs.get_queue_attributes(
        QueueUrl=fresh.resources.queue_url("SendQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # a new message, not a failed receive


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_cap_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError):
        SharedTokenBucket("t", rate)
