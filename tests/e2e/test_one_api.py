"""A stack started with `--parameter ClickatellApi=one` (what `make local PARAMETERS="ClickatellApi=one"`
runs) sends through the simulator's One API: each number once, in requests of at most 100, with its
delivery report; options the One API lacks are refused."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from bulksms.domain import one_api

from tests.e2e.conftest import E2EStack, numbers, start_stack, stop_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def one_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    running = start_stack(
        tmp_path_factory.mktemp("e2e-one") / "local-stack.log", "--parameter", "ClickatellApi=one"
    )
    try:
        yield running
    finally:
        running.http.clear()
        code, _ = stop_stack(running)
    assert code == 0, running.output()


def test_a_job_goes_through_the_one_api_once_per_number_with_delivery_reports(one_stack: E2EStack) -> None:
    stack = one_stack
    stack.sim("POST", "reset")
    to = numbers(1000, start=6_000_000)

    accepted = stack.send({"to": to, "text": "e2e: One API", "callback": 3})
    job = stack.wait_finished(accepted["job_id"])

    assert job["status"] == "completed" and job["counts"]["total"] == 1000
    items = stack.recipients(accepted["job_id"])
    assert Counter(item["to"] for item in items) == Counter(to)
    assert all(item["api_message_id"] for item in items)
    stats = stack.sim_stats()
    assert stats["requests_by_api"] == {"http": 0, "one": 10}
    assert stats["max_numbers_per_request"] == 100
    assert stats["recipients_accepted"] == 1000 and stats["duplicate_sends"] == 0
    [message] = stack.sim_messages(to[500])
    assert message["cli_msg_id"] == one_api.recipient_message_id(accepted["job_id"], to[500])
    # The simulator's One API callbacks (JSON, intermediate then final) reach the stack's callback URL.
    deadline = time.monotonic() + 60
    while (job := stack.job(accepted["job_id"]))["counts"][
        "delivered"
    ] < 1000 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job["counts"]["delivered"] == 1000, (job, stack.sim_stats())
    assert stack.sim_stats()["callbacks_failed"] == 0


def test_flash_is_refused_on_a_one_deployment(one_stack: E2EStack) -> None:
    status, answer = one_stack.api(
        "POST", "/v1/messages", {"to": numbers(1, start=6_100_000), "text": "Flash!", "msg_type": "SMS_FLASH"}
    )
    assert status == 400, answer
    assert answer["error"]["code"] == "unsupported_option" and answer["error"]["field"] == "msg_type"


def test_one_api_replies_and_opted_out_recipients_feed_the_suppression_list(one_stack: E2EStack) -> None:
    stack = one_stack
    stack.sim("POST", "reset")
    to = numbers(4, start=6_200_000)
    by_reply, by_provider = to[:2]
    # No format given: the simulator sends the One API's reply callback, as this stack's provider would.
    mo = stack.sim("POST", "mo", {"from": by_reply, "to": "27999000000", "text": "stop"})
    assert (mo["delivered"], mo["answer"]) == (True, "stored"), mo
    stack.sim("POST", "opt_outs", {"add": [by_provider]})  # the One API refuses it: error 26

    first = stack.send({"to": to, "text": "e2e: One API opt-outs"})
    assert (first["accepted"], first["suppressed"]) == (3, 1)
    stack.wait_finished(first["job_id"])
    (failed,) = stack.recipients(first["job_id"], status="failed")
    assert (failed["to"], failed["error_code"]) == (by_provider, "26")
    entries = {n: stack.api("GET", f"/v1/suppressions/{n}")[1] for n in (by_reply, by_provider)}
    assert {n: e["source"] for n, e in entries.items()} == {by_reply: "keyword", by_provider: "provider"}
    assert entries[by_provider]["reason"] == "Clickatell: error 26, Recipient opted out"
    (item,) = stack.api("GET", "/v1/inbound?limit=1")[1]["items"]
    assert (item["from"], item["charset"], item["mo_message_id"]) == (by_reply, "UTF-8", mo["moMsgId"])

    second = stack.send({"to": to, "text": "e2e: One API opt-outs, again"})
    assert (second["accepted"], second["suppressed"]) == (2, 2)
