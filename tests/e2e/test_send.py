"""Jobs through the running local stack: every number gets exactly one result, and Clickatell (the
simulator) receives each number once, with the parameters the request asked for."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import E2EStack, numbers

pytestmark = pytest.mark.e2e


def test_five_thousand_recipients_end_in_five_thousand_results(sim_reset: E2EStack) -> None:
    stack = sim_reset
    to = numbers(5000, start=1_000_000)
    before = stack.sim_stats()

    accepted = stack.send({"to": to, "text": "e2e: five thousand, each once"})

    assert accepted["accepted"] == 5000
    assert accepted["duplicates_removed"] == 0 and accepted["rejected"] == []
    job = stack.wait_finished(accepted["job_id"])
    assert job["status"] == "completed"
    assert job["counts"]["total"] == 5000
    assert job["counts"]["submitted"] == 5000 and job["counts"]["queued"] == 0

    items = stack.recipients(accepted["job_id"], limit=1000)
    assert len(items) == 5000
    assert Counter(item["to"] for item in items) == Counter(to)  # each recipient exactly once
    assert {item["status"] for item in items} == {"submitted"}
    assert len({item["api_message_id"] for item in items}) == 5000

    after = stack.sim_stats()
    assert after["recipients_accepted"] - before["recipients_accepted"] == 5000
    assert after["duplicate_sends"] == before["duplicate_sends"] == 0
    assert after["requests"] - before["requests"] == 9  # 600-number POSTs
    assert after["max_numbers_per_request"] <= 600
    # Clickatell's answer maps back to our record through our own climsgid, the job id.
    sample = next(item for item in items if item["to"] == to[1234])
    [message] = stack.sim_messages(to[1234])
    assert message["api_msg_id"] == sample["api_message_id"]
    assert message["cli_msg_id"] == accepted["job_id"]


UNICODE_TEXT = "Привет Ω 😀"


def _unicode(params: dict[str, str]) -> None:
    assert params["unicode"] == "1"
    assert bytes.fromhex(params["text"]).decode("utf-16-be") == UNICODE_TEXT


def _flash(params: dict[str, str]) -> None:
    assert params["msg_type"] == "SMS_FLASH"
    assert params["text"] == "Flash!"


def _binary(params: dict[str, str]) -> None:
    assert params["udh"] == "0605040B8423F0"
    assert params["data"] == "C0FFEE0102"
    assert "text" not in params and "unicode" not in params


def _two_way(params: dict[str, str]) -> None:
    assert params["from"] == "27821239999"
    assert params["mo"] == "1"


def _callback(params: dict[str, str]) -> None:
    assert params["callback"] == "3"


FEATURES = [  # each with a number of its own
    pytest.param("27822000001", {"text": UNICODE_TEXT}, "ucs2", _unicode, id="unicode"),
    pytest.param("27822000002", {"text": "Flash!", "msg_type": "SMS_FLASH"}, "gsm7", _flash, id="flash"),
    pytest.param(
        "27822000003",
        {"encoding": "binary", "text": "c0ffee0102", "udh": "0605040B8423F0"},
        "binary",
        _binary,
        id="binary-udh",
    ),
    pytest.param(
        "27822000004",
        {"text": "Reply YES", "from": "27821239999", "mo": True},
        "gsm7",
        _two_way,
        id="two-way",
    ),
    pytest.param("27822000005", {"text": "With receipts", "callback": 3}, "gsm7", _callback, id="callback"),
]


@pytest.mark.parametrize(("to", "fields", "encoding", "check"), FEATURES)
def test_message_options_reach_clickatell(
    sim_reset: E2EStack,
    to: str,
    fields: dict[str, Any],
    encoding: str,
    check: Callable[[dict[str, str]], None],
) -> None:
    stack = sim_reset

    accepted = stack.send({"to": [to], **fields})

    assert accepted["encoding"] == encoding
    job = stack.wait_finished(accepted["job_id"], timeout_s=60)
    # Sent; with callbacks its delivery report may already be counted when the job finishes.
    assert job["counts"]["submitted"] + job["counts"]["delivered"] == 1, job["counts"]
    [sent] = stack.sim_requests_for(accepted["job_id"])
    assert sent["numbers"] == 1 and sent["params"]["to"] == to
    check(sent["params"])
    [message] = stack.sim_messages(to)
    assert message["cli_msg_id"] == accepted["job_id"]
    assert message["from"] == fields.get("from", "")
    assert message["callback_level"] == fields.get("callback", 0)


def test_delivery_callbacks_move_the_recipient_to_delivered(sim_reset: E2EStack) -> None:
    """callback 3 asks Clickatell for intermediate and final statuses; the simulator calls the
    stack's callback URL, which moves the recipient from submitted to delivered."""
    stack = sim_reset
    to = numbers(3, start=2_100_000)  # 27822100000..2
    accepted = stack.send({"to": to, "text": "Delivery report please", "callback": 3})
    stack.wait_finished(accepted["job_id"], timeout_s=60)

    deadline = time.monotonic() + 30
    while (job := stack.job(accepted["job_id"]))["counts"]["delivered"] < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job["counts"]["delivered"] == 3, job
    items = stack.recipients(accepted["job_id"], status="delivered")
    assert sorted(item["to"] for item in items) == to
    assert {item["delivery_status"] for item in items} == {"004"}
    assert stack.sim_stats()["callbacks_failed"] == 0
