"""`Idempotency-Key` on POST /v1/messages: the same key and body within 24 h gives the first answer again
and creates nothing; the same key with another body is a 409; concurrent duplicates create one job."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.faults import (  # noqa: F401 - fixtures
    check_every_number_once,
    harness,
    job_items,
    numbers,
    wire,
)

BODY = {"to": numbers(1500), "text": "Your code is 1234", "client_reference": "order-42"}


def post(api: Any, body: Any, key: str | None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.call("POST", "/v1/messages", body, headers=headers)  # type: ignore[no-any-return]


def test_same_key_and_body_gives_the_first_answer_and_no_second_job(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    first = post(api, BODY, "key-1")
    assert first[0] == 202, first
    depth = fresh.queue_depth()
    assert depth == 1  # three chunks, one queue message

    again = post(api, BODY, "key-1")
    also = post(api, {**BODY, "to": list(BODY["to"])}, "key-1")

    assert again == first and also == first
    assert [job["job_id"] for job in job_items(fresh)] == [first[1]["job_id"]]
    assert fresh.queue_depth() == depth
    drain()
    job, _ = check_every_number_once(fresh, api, first[1]["job_id"], BODY["to"])
    assert job["status"] == "completed"
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 1500 and stats["duplicate_sends"] == 0


def test_same_key_and_body_after_the_job_finished_still_gives_the_first_answer(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    first = post(api, BODY, "key-after")
    drain()
    assert post(api, BODY, "key-after") == first
    assert fresh.queue_depth() == 0
    drain()
    assert fresh.simulator.stats()["recipients_accepted"] == 1500


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"text": "Your code is 9999"}, id="text"),
        pytest.param({"to": numbers(1499)}, id="one-number-less"),
        pytest.param({"client_reference": "order-43"}, id="client-reference"),
        pytest.param({"callback": 3}, id="callback-level"),
    ],
)
def test_same_key_with_another_body_is_a_conflict_and_creates_nothing(
    api: Any, fresh: LocalStack, change: dict[str, Any]
) -> None:
    first = post(api, BODY, "key-2")
    assert first[0] == 202

    status, answer = post(api, {**BODY, **change}, "key-2")

    assert status == 409, answer
    assert answer["error"]["code"] == "idempotency_conflict"
    assert answer["error"]["field"] == "Idempotency-Key"
    assert len(job_items(fresh)) == 1
    assert fresh.queue_depth() == 1


def test_without_the_header_every_request_is_a_new_job(api: Any, fresh: LocalStack) -> None:
    answers = [post(api, BODY, None) for _ in range(3)]
    assert all(status == 202 for status, _ in answers)
    assert len({answer["job_id"] for _, answer in answers}) == 3
    assert len(job_items(fresh)) == 3 and fresh.queue_depth() == 3


def test_different_keys_with_the_same_body_are_different_jobs(api: Any, fresh: LocalStack) -> None:
    a, b = post(api, BODY, "key-a"), post(api, BODY, "key-b")
    assert a[0] == b[0] == 202 and a[1]["job_id"] != b[1]["job_id"]


def test_a_rejected_request_is_not_remembered_under_its_key(api: Any, fresh: LocalStack) -> None:
    """A 400 writes nothing; fixing the body and retrying with the same key must not be a conflict."""
    status, answer = post(api, {**BODY, "text": ""}, "key-400")
    assert status == 400, answer
    status, answer = post(api, BODY, "key-400")
    assert status == 202, answer
    assert len(job_items(fresh)) == 1


@pytest.mark.timeout(60)
def test_concurrent_duplicates_create_exactly_one_job_and_each_number_is_sent_once(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    barrier = threading.Barrier(8)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        answer = post(api, BODY, "key-race")
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == 8
    jobs = job_items(fresh)
    assert len(jobs) == 1, f"{len(jobs)} jobs created by 8 identical requests"
    job_id = jobs[0]["job_id"]
    outcomes: Counter[str] = Counter()
    for status, answer in answers:
        if status == 202:
            assert answer["job_id"] == job_id
            outcomes["first answer"] += 1
        else:
            assert (status, answer["error"]["code"]) == (409, "idempotency_in_progress"), (status, answer)
            outcomes["in progress"] += 1
    print(f"\nconcurrent duplicates: {dict(outcomes)}")
    assert outcomes["first answer"] >= 1
    assert fresh.queue_depth() == 1
    drain()
    job, _ = check_every_number_once(fresh, api, job_id, BODY["to"])
    assert job["status"] == "completed"
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 1500 and stats["duplicate_sends"] == 0
    # After the race, the key answers with the first answer.
    status, answer = post(api, BODY, "key-race")
    assert status == 202 and answer["job_id"] == job_id
