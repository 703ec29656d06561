"""v1.1 sending controls through the real handlers: dry run, validity and priority, send_at with its
one-time schedule (and cancel), and the job list."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.aws_env import client, clients
from local.stack import LocalStack
from tests.integration.jobs import TEXT, get_job, numbers, simulator, submit


def table_items(stack: LocalStack) -> list[dict[str, Any]]:
    dynamodb = clients(stack.endpoint)[0]
    return list(dynamodb.scan(TableName=stack.resources.refs["Table"])["Items"])


def schedules(stack: LocalStack) -> list[dict[str, Any]]:
    scheduler = client(stack.endpoint, "scheduler")
    group = stack.resources.refs["ScheduleGroup"]
    return [
        scheduler.get_schedule(Name=s["Name"], GroupName=group)
        for s in scheduler.list_schedules(GroupName=group)["Schedules"]
    ]


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


# ---- dry run ------------------------------------------------------------------------------------


def test_dry_run_prices_the_send_and_writes_nothing(api: Any, fresh: LocalStack) -> None:
    body = {"to": [*numbers(3), "0821234567", numbers(1)[0]], "text": "x" * 200, "dry_run": True}
    status, answer = api.call("POST", "/v1/messages", body, headers={"Idempotency-Key": "dry-1"})

    assert status == 200, answer
    assert answer["status"] == "dry_run" and "job_id" not in answer and "links" not in answer
    assert (answer["accepted"], answer["duplicates_removed"], answer["rejected_count"]) == (3, 1, 1)
    assert answer["parts_per_message"] == 2
    assert answer["estimated_credits"] == 6  # 2 parts x 3 numbers
    assert table_items(fresh) == []  # no job, no chunk, no idempotency record
    assert fresh.queue_depth() == 0 and simulator(fresh).stats()["requests"] == 0


def test_dry_run_refuses_what_a_send_refuses(api: Any, fresh: LocalStack) -> None:
    status, answer = api.call("POST", "/v1/messages", {"to": ["0821234567"], "text": "hi", "dry_run": True})
    assert status == 400 and answer["error"]["code"] == "no_valid_recipient"


# ---- validity and priority ----------------------------------------------------------------------


def test_validity_and_priority_reach_clickatell(api: Any, fresh: LocalStack, drain: Any) -> None:
    job_id = submit(api, numbers(2), validity_minutes=240, priority=1)
    drain()

    (request,) = simulator(fresh).requests
    assert (request["params"]["validity"], request["params"]["queue"]) == ("240", "1")
    assert get_job(api, job_id)["counts"]["submitted"] == 2


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"validity_minutes": 0}, "validity_minutes"),
        ({"validity_minutes": 1441}, "validity_minutes"),
        ({"validity_minutes": "60"}, "validity_minutes"),
        ({"priority": 0}, "priority"),
        ({"priority": 4}, "priority"),
        ({"send_at": "2030-01-01T08:00:00"}, "send_at"),
        ({"send_at": "2020-01-01T08:00:00Z"}, "send_at"),
        ({"send_at": "next tuesday"}, "send_at"),
        ({"dry_run": "yes"}, "dry_run"),
    ],
)
def test_out_of_range_setting_is_400_and_queues_nothing(
    api: Any, fresh: LocalStack, extra: dict[str, Any], field: str
) -> None:
    status, answer = api.call("POST", "/v1/messages", {"to": numbers(1), "text": TEXT, **extra})

    assert status == 400, answer
    assert answer["error"]["field"] == field
    assert table_items(fresh) == [] and fresh.queue_depth() == 0 and schedules(fresh) == []


def test_send_at_more_than_seven_days_ahead_is_400(api: Any, fresh: LocalStack) -> None:
    status, answer = api.call(
        "POST", "/v1/messages", {"to": numbers(1), "text": TEXT, "send_at": in_seconds(7 * 86400 + 60)}
    )
    assert status == 400 and answer["error"]["field"] == "send_at"
    assert "7 days" in answer["error"]["message"]


# ---- send_at ------------------------------------------------------------------------------------


def test_scheduled_job_is_sent_after_send_at_and_not_before(api: Any, fresh: LocalStack) -> None:
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    status, answer = api.call(
        "POST", "/v1/messages", {"to": numbers(3), "text": TEXT, "send_at": send_at.isoformat()}
    )
    assert status == 202 and answer["status"] == "scheduled", answer
    job_id = answer["job_id"]
    assert get_job(api, job_id)["status"] == "scheduled"
    (schedule,) = schedules(fresh)
    assert (
        schedule["ScheduleExpression"]
        == f"at({send_at.replace(second=0, microsecond=0, tzinfo=None).isoformat()})"
    )
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert json.loads(schedule["Target"]["Input"]) == {"job_id": job_id, "start": True}
    assert schedule["Target"]["Arn"] == fresh.resources.queue_arn("SendQueue")
    assert fresh.queue_depth() == 0  # nothing queued for sending at submission

    poller = fresh.sender_poller()
    # The floored at() expression is due by the minute's start (at once, unless send_at's minute only
    # begins within the next 3 s); the start it puts on the queue waits in SQS until send_at, and no
    # chunk is queued or sent before.
    due = max(datetime.now(UTC), send_at.replace(second=0, microsecond=0))
    assert fresh.scheduler.fire_due(now=due) == 1 and schedules(fresh) == []
    while datetime.now(UTC) < send_at - timedelta(milliseconds=300):
        poller.poll_once()
        assert simulator(fresh).stats()["requests"] == 0
        assert get_job(api, job_id)["status"] == "scheduled"
        time.sleep(0.1)
    deadline = time.monotonic() + 20
    while get_job(api, job_id)["status"] != "completed" and time.monotonic() < deadline:
        poller.poll_once(wait_s=1)
        fresh.drain_streams()
    job = get_job(api, job_id)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 3, job
    assert job["send_at"] == answer["send_at"]
    assert simulator(fresh).stats()["recipients_accepted"] == 3


def test_cancel_of_a_scheduled_job_cancels_every_number(api: Any, fresh: LocalStack, drain: Any) -> None:
    job_id = submit(api, numbers(1300), send_at=in_seconds(3600))
    assert len(schedules(fresh)) == 1

    status, job = api.call("DELETE", f"/v1/messages/{job_id}")

    assert status == 202, job  # its numbers are settled in the background
    assert job["stop"]["code"] == "CANCELLED"
    assert schedules(fresh) == []
    drain()  # the cancel queued the chunks: the sender settles them with the stop, sends none
    job = get_job(api, job_id)
    assert job["status"] == "cancelled"
    assert job["counts"]["cancelled"] == job["counts"]["total"] == 1300
    # A start that was already on its way finds the job cancelled and queues nothing.
    clients(fresh.endpoint)[1].send_message(
        QueueUrl=fresh.resources.queue_url("SendQueue"),
        MessageBody=json.dumps({"job_id": job_id, "start": True}),
    )
    drain()
    assert simulator(fresh).stats()["requests"] == 0
    assert get_job(api, job_id)["counts"]["cancelled"] == 1300 and fresh.queue_depth() == 0


def test_sweeper_leaves_a_scheduled_job_alone(api: Any, fresh: LocalStack) -> None:
    job_id = submit(api, numbers(2), send_at=in_seconds(3600))
    fresh.invoke_scheduled("SweeperFunction")
    assert fresh.queue_depth() == 0 and get_job(api, job_id)["status"] == "scheduled"


# ---- the job list -------------------------------------------------------------------------------


def list_jobs(api: Any, **query: str) -> tuple[int, Any]:
    return api.call("GET", "/v1/messages", query=list(query.items()))  # type: ignore[no-any-return]


def test_jobs_are_listed_newest_first_a_page_at_a_time(api: Any, fresh: LocalStack, drain: Any) -> None:
    first = submit(api, numbers(1))
    drain()
    second = submit(api, numbers(1), client_reference="second")
    third = submit(api, numbers(1), send_at=in_seconds(3600))

    status, page = list_jobs(api, limit="2")
    assert status == 200, page
    assert [job["job_id"] for job in page["items"]] == [third, second]
    assert page["items"][1] == get_job(api, second)  # the job view's shape
    status, rest = list_jobs(api, limit="2", next_token=page["next_token"])
    assert [job["job_id"] for job in rest["items"]] == [first] and rest["next_token"] is None

    _, completed = list_jobs(api, status="completed")
    assert [job["job_id"] for job in completed["items"]] == [first]
    _, scheduled = list_jobs(api, status="scheduled")
    assert [job["job_id"] for job in scheduled["items"]] == [third]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"status": "sent"}, "status"),
        ({"next_token": "not-a-token"}, "next_token"),
    ],
)
def test_bad_job_list_query_is_400(api: Any, fresh: LocalStack, query: dict[str, str], field: str) -> None:
    status, answer = list_jobs(api, **query)
    assert status == 400 and answer["error"]["field"] == field, answer


def test_job_list_token_only_works_with_its_status_filter(api: Any, fresh: LocalStack) -> None:
    submit(api, numbers(1))
    submit(api, numbers(1))
    _, page = list_jobs(api, limit="1")
    status, answer = list_jobs(api, limit="1", status="queued", next_token=page["next_token"])
    assert status == 400 and answer["error"]["code"] == "invalid_page_token"
