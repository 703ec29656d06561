"""The send pipeline end to end through the real handlers: API -> DynamoDB + SQS -> sender -> simulator."""

from __future__ import annotations

from typing import Any

from local.stack import LocalStack
from tests.integration.jobs import numbers, recipients


def test_two_thousand_recipients_end_in_two_thousand_results(api: Any, drain: Any, fresh: LocalStack) -> None:
    to = [*numbers(2000), "0821234567", "27999000001"]
    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": "Your code is 1234"})

    assert status == 202, accepted
    assert accepted["accepted"] == 2000
    assert {r["to"] for r in accepted["rejected"]} == {"0821234567", "27999000001"}
    assert accepted["encoding"] == "gsm7" and accepted["parts_per_message"] == 1

    drain()

    status, job = api.call("GET", f"/v1/messages/{accepted['job_id']}")
    assert status == 200
    assert job["status"] == "completed"
    assert job["counts"]["total"] == 2000
    assert job["counts"]["submitted"] == 2000 and job["counts"]["queued"] == 0
    items = recipients(api, accepted["job_id"])
    assert sorted(item["to"] for item in items) == sorted(numbers(2000))
    assert all(item["status"] == "submitted" and item["api_message_id"] for item in items)
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 2000
    assert stats["duplicate_sends"] == 0
    assert stats["max_numbers_per_request"] <= 600
    assert stats["requests"] == 4  # 2000 numbers in 600-number chunks
    assert stats["connections"] <= 8  # keep-alive: the pool's connections are reused


def test_invalid_request_writes_and_queues_nothing(api: Any, fresh: LocalStack) -> None:
    status, answer = api.call("POST", "/v1/messages", {"to": ["27821234567"], "text": ""})

    assert status == 400
    assert answer["error"]["field"] == "text"
    assert fresh.queue_depth() == 0
    assert fresh.simulator.stats()["requests"] == 0
