"""`Idempotency-Key` on POST /v1/messages: the same key and body within 24 h gives the first answer again
and creates nothing; the same key with another body is a 409; concurrent duplicates create one job."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.aws_env import client
from local.stack import LocalStack
from tests.integration.faults import (  # noqa: F401 - fixtures
    check_every_number_once,
    harness,
    job_items,
    table,
    wire,
)
from tests.integration.jobs import numbers

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


# ---- issue 16: a record that always fits, and a job that is never made twice -----------------------


class Crash(BaseException):
    """A process that dies (timeout, out of memory): no handler runs, powertools' included."""


def idempotency_records(stack: LocalStack) -> list[dict[str, Any]]:
    """Powertools' records: the table's items that are not under a job's key."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "FilterExpression": "NOT begins_with(pk, :job)",
        "ExpressionAttributeValues": {":job": "JOB#"},
    }
    while True:
        page = table(stack).scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def expire_in_progress(stack: LocalStack) -> None:
    """What the Lambda timeout running out does to an in-progress record, now."""
    for record in idempotency_records(stack):
        if record["status"] == "INPROGRESS":
            table(stack).update_item(
                Key={"pk": record["pk"], "sk": record["sk"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": 1},
            )


def six_megabytes() -> dict[str, Any]:
    """A body of exactly the 6 MB limit: 600 numbers and 99,400 rejected multi-byte inputs."""
    body: dict[str, Any] = {"to": numbers(600), "text": "Your code is 1234"}
    body["to"] += [f"{'😀' * 12}{i}" for i in range(99_399)]
    room = 6_000_000 - len(json.dumps(body, ensure_ascii=False).encode()) - len(', ""')
    body["to"].append("x" * room)
    assert len(json.dumps(body, ensure_ascii=False).encode()) == 6_000_000
    return body


@pytest.mark.timeout(120)
def test_a_body_at_the_6_mb_limit_keeps_a_small_record_and_its_replay(api: Any, fresh: LocalStack) -> None:
    body = six_megabytes()
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Idempotency-Key": "key-6mb"}

    status, first = api.call("POST", "/v1/messages", raw=raw, headers=headers)

    assert status == 202, first
    assert first["accepted"] == 600 and first["rejected_count"] == 99_400
    (record,) = idempotency_records(fresh)
    assert record["status"] == "COMPLETED"
    assert json.loads(record["data"]) == {"job_id": first["job_id"]}
    print(f"\n6 MB body: idempotency record of {len(json.dumps(record, default=str))} bytes")
    assert api.call("POST", "/v1/messages", raw=raw, headers=headers) == (202, first)
    assert [job["job_id"] for job in job_items(fresh)] == [first["job_id"]]
    assert fresh.queue_depth() == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["before queueing", "after queueing"])
def test_a_crash_between_creating_the_job_and_completing_the_record_sends_once(
    api: Any, fresh: LocalStack, drain: Any, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    from bulksms.adapters.queue import SqsSendQueue

    original = SqsSendQueue.enqueue

    def dying_enqueue(self: SqsSendQueue, job_id: str, groups: Any) -> None:
        if when == "after queueing":
            original(self, job_id, groups)
        raise Crash

    monkeypatch.setattr(SqsSendQueue, "enqueue", dying_enqueue)
    with pytest.raises(Crash):
        post(api, BODY, "key-crash")
    monkeypatch.undo()
    (job,) = job_items(fresh)
    status, answer = post(api, BODY, "key-crash")  # the dead run's record is still in progress
    assert (status, answer["error"]["code"]) == (409, "idempotency_in_progress")

    expire_in_progress(fresh)
    status, answer = post(api, BODY, "key-crash")

    assert status == 202, answer
    assert answer["job_id"] == job["job_id"]
    assert [item["job_id"] for item in job_items(fresh)] == [job["job_id"]]
    drain()
    done, _ = check_every_number_once(fresh, api, job["job_id"], BODY["to"])
    assert done["status"] == "completed"
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 1500 and stats["duplicate_sends"] == 0
    assert post(api, BODY, "key-crash") == (202, answer)


def test_a_queue_failure_after_the_job_was_created_completes_the_record(
    api: Any, fresh: LocalStack, drain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job is stopped (never sent) and the record completed: every retry gets the same 503 naming
    the job, none creates another."""
    from bulksms.adapters.queue import SqsSendQueue

    def refused(self: SqsSendQueue, job_id: str, groups: Any) -> None:
        raise RuntimeError("SQS refused 1 messages after 5 attempts")

    monkeypatch.setattr(SqsSendQueue, "enqueue", refused)
    first = post(api, BODY, "key-sqs-down")
    monkeypatch.undo()

    assert first[0] == 503, first
    assert first[1]["error"]["code"] == "unavailable"
    (job,) = job_items(fresh)
    assert job["job_id"] in first[1]["error"]["message"]
    assert job["stop"]["code"] == "QUEUE_UNAVAILABLE"
    (record,) = idempotency_records(fresh)
    assert record["status"] == "COMPLETED"
    assert post(api, BODY, "key-sqs-down") == first
    assert len(job_items(fresh)) == 1
    drain()
    assert fresh.simulator.stats()["requests"] == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["before scheduling", "after scheduling"])
def test_a_crash_around_scheduling_a_job_leaves_one_job_with_one_schedule(
    api: Any, fresh: LocalStack, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The re-run of a scheduled job's request creates its schedule if the dead run did not (and
    finds it if it did): never a second job, never a job that no schedule starts."""
    from bulksms.adapters.scheduler import JobScheduler

    original = JobScheduler.schedule_start

    def dying_schedule_start(self: JobScheduler, job_id: str, at: Any) -> None:
        if when == "after scheduling":
            original(self, job_id, at)
        raise Crash

    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {**BODY, "send_at": send_at}
    monkeypatch.setattr(JobScheduler, "schedule_start", dying_schedule_start)
    with pytest.raises(Crash):
        post(api, body, "key-sched-crash")
    monkeypatch.undo()
    (job,) = job_items(fresh)
    expire_in_progress(fresh)

    status, answer = post(api, body, "key-sched-crash")

    assert status == 202, answer
    assert (answer["job_id"], answer["status"]) == (job["job_id"], "scheduled")
    assert [item["job_id"] for item in job_items(fresh)] == [job["job_id"]]
    group = fresh.resources.refs["ScheduleGroup"]
    names = [
        s["Name"] for s in client(fresh.endpoint, "scheduler").list_schedules(GroupName=group)["Schedules"]
    ]
    assert names == [f"job-{job['job_id']}"]
    assert post(api, body, "key-sched-crash") == (202, answer)
