"""Issue 5: Clickatell delivery callbacks move recipients to their delivery status.

The simulator pushes callbacks to the local callback route (`stack.callback_url`) like Clickatell does;
the direct tests call the route through the local gateway (`stack.gateway.handle`), exactly as the
function URL would deliver it. Callback volume is kept to a few hundred recipients: everything runs in
one process and callbacks go through at roughly 30-100 per second.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from bulksms import runtime
from bulksms.adapters.store import Store
from bulksms.domain.send_messages import parse_message
from bulksms.service import sweeping

from local.aws_env import clients
from local.context import LocalContext
from local.events import function_url_event
from local.functions import load_handler
from local.simulator import ClickatellSimulator
from local.stack import LocalStack
from tests.integration.jobs import get_job, numbers, recipients, submit

STARTED_AT = int(time.time())  # before any test here: a timestamp a test sees is between it and now

ROUTE = "/v1/callbacks/clickatell"
MIX = {"004": 0.8, "007": 0.1, "010": 0.1}
OUR_STATUS = {"004": "delivered", "007": "failed", "010": "expired"}
COUNTED = ("queued", "submitted", "delivered", "failed", "expired", "unknown", "cancelled")


# ---- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
def sim(fresh: LocalStack) -> Iterator[ClickatellSimulator]:
    """The stack's simulator sending callbacks soon after a send, retrying a 503 for a few seconds; its
    settings are put back afterwards (a reset keeps settings)."""
    simulator = fresh.simulator
    assert simulator is not None
    saved = simulator.settings
    simulator.configure(callback_delay_ms=20, callback_retry_delays_ms=(200, 500, 1000, 2000, 4000))
    yield simulator
    wait_for_callbacks(simulator, 30)
    simulator.configure(**{name: getattr(saved, name) for name in saved.names()})


# ---- helpers -------------------------------------------------------------------------------------------


def wait_for_callbacks(simulator: ClickatellSimulator, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (stats := simulator.stats())["callbacks_pending"]:
        if time.monotonic() > deadline:
            raise AssertionError(f"callbacks still pending after {timeout_s}s: {stats}")
        time.sleep(0.05)
    return stats


def stored(job_id: str, to: str) -> dict[str, Any]:
    item = runtime.store().get_recipient(job_id, to)
    assert item is not None, f"no item for {to}"
    return item


def callback(
    stack: LocalStack, fields: dict[str, str], *, method: str = "GET", token: str | None = None
) -> tuple[int, str]:
    """One callback through the local function URL: fields in the query (GET) or a form body (POST)."""
    query = [] if token == "" else [("token", stack.config.callback_token if token is None else token)]
    headers: dict[str, str] = {}
    body = b""
    if method == "GET":
        query += list(fields.items())
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode(fields).encode()
    answer = stack.gateway.handle(method, ROUTE, query, headers, body)
    return answer.status, answer.body.decode()


def report(job_id: str, item: dict[str, Any], status: str, **extra: str) -> dict[str, str]:
    """A callback's fields as Clickatell sends them for one of our recipients."""
    return {
        "api_id": "3456789",
        "apiMsgId": str(item["api_message_id"]),
        "cliMsgId": job_id,
        "timestamp": "1764096005",
        "to": str(item["to"]),
        "from": "",
        "status": status,
        "charge": "1.000000",
        **extra,
    }


def counts_without_total(job: dict[str, Any]) -> dict[str, int]:
    return {name: job["counts"][name] for name in COUNTED}


def check_counts_are_the_tally(
    api: Any, job_id: str, total: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job's counters equal a tally of its recipient items, and every number has one item."""
    job = get_job(api, job_id)
    items = recipients(api, job_id)
    assert len(items) == len({item["to"] for item in items}) == total
    tally = Counter(item["status"] for item in items)
    counts = job["counts"]
    assert counts["total"] == total
    assert {name: n for name, n in counts.items() if name != "total" and n} == dict(tally), (counts, tally)
    return job, items


@pytest.fixture
def sent_job(api: Any, drain: Any, fresh: LocalStack) -> tuple[str, dict[str, dict[str, Any]]]:
    """Five numbers sent without callbacks: recipients `submitted`, each with its Clickatell ID."""
    to = numbers(5, start=2_000_000)
    job_id = submit(api, to)
    drain()
    job = get_job(api, job_id)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 5, job
    return job_id, {item["to"]: stored(job_id, item["to"]) for item in recipients(api, job_id)}


# ---- 1. callbacks pushed by the simulator ----------------------------------------------------------------


def test_level_3_callbacks_leave_every_recipient_delivered_with_status_and_charge(
    api: Any, drain: Any, sim: ClickatellSimulator
) -> None:
    total = 150
    to = numbers(total)
    job_id = submit(api, to, callback=3)
    drain()
    stats = wait_for_callbacks(sim)

    assert stats["callbacks_failed"] == 0 and stats["callbacks_dropped"] == 0, stats
    assert stats["callbacks_by_status"] == {"004": total}, stats
    assert stats["callbacks_sent"] == 2 * total  # 003 then 004 for each
    job, items = check_counts_are_the_tally(api, job_id, total)
    assert job["status"] == "completed"
    assert job["counts"]["delivered"] == stats["callbacks_by_status"]["004"] == total
    assert job["counts"]["submitted"] == 0
    for item in items:
        assert item["status"] == "delivered", item
        assert item["delivery_status"] == "004", item
        assert item["charge"] == "1.000000", item
        assert item["error_code"] is None and item["error"] is None, item
        assert sim.message(item["api_message_id"])["to"] == item["to"]  # type: ignore[index]
    first = stored(job_id, to[0])
    assert first["reported_at"].isdigit() and STARTED_AT <= int(first["reported_at"]) <= time.time()


def test_a_status_mix_ends_in_the_counts_the_simulator_reported(
    api: Any, drain: Any, sim: ClickatellSimulator
) -> None:
    sim.configure(callback_status_mix=MIX)
    total = 200
    job_id = submit(api, numbers(total), callback=3)
    drain()
    stats = wait_for_callbacks(sim)

    assert stats["callbacks_failed"] == 0, stats
    by_status = stats["callbacks_by_status"]
    assert set(by_status) == {"004", "007", "010"} and sum(by_status.values()) == total, by_status
    job, items = check_counts_are_the_tally(api, job_id, total)
    counts = job["counts"]
    assert counts["delivered"] == by_status["004"]
    assert counts["failed"] == by_status["007"]
    assert counts["expired"] == by_status["010"]
    assert counts["submitted"] == counts["queued"] == 0
    for item in items:
        final = sim.message(item["api_message_id"])["status"]  # type: ignore[index]
        assert item["status"] == OUR_STATUS[final] and item["delivery_status"] == final, item
        if final == "004":
            assert item["error_code"] is None
        else:
            assert item["error_code"] == final
            assert item["error"] == {"007": "Error delivering message", "010": "Message expired"}[final]


@pytest.mark.parametrize(
    "faults",
    [
        {},
        {"callback_duplicates": 1.0},
        {"callback_out_of_order": 1.0},
        {"callback_duplicates": 1.0, "callback_out_of_order": 1.0},
    ],
    ids=["clean", "duplicates", "out_of_order", "both"],
)
def test_duplicate_and_out_of_order_callbacks_change_nothing(
    api: Any, drain: Any, sim: ClickatellSimulator, faults: dict[str, float]
) -> None:
    """Same outcome as a clean run: one final status per recipient, as the simulator decided it, counted
    once; a late 003 never moves a recipient back to `submitted`."""
    sim.configure(callback_status_mix=MIX)
    sim.set_faults(**faults)
    total = 100
    job_id = submit(api, numbers(total), callback=3)
    drain()
    stats = wait_for_callbacks(sim)

    per_message = 2 + (1 if faults.get("callback_duplicates") else 0)
    assert stats["callbacks_sent"] == per_message * total, stats  # the faults really happened
    assert stats["callbacks_failed"] == 0, stats
    by_status = stats["callbacks_by_status"]
    assert sum(by_status.values()) == total
    job, items = check_counts_are_the_tally(api, job_id, total)
    expected = {OUR_STATUS[code]: n for code, n in by_status.items()}
    assert {k: v for k, v in counts_without_total(job).items() if v} == expected
    for item in items:
        final = sim.message(item["api_message_id"])["status"]  # type: ignore[index]
        assert item["status"] == OUR_STATUS[final], item
        assert item["delivery_status"] == final, item  # a late 003 did not overwrite the final code


# ---- 1. the route itself ---------------------------------------------------------------------------------


def test_bad_or_missing_token_is_403_and_writes_nothing(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)

    for token in ("bad", "", fresh.config.callback_token.upper(), fresh.config.callback_token + "x"):
        for method in ("GET", "POST"):
            status, body = callback(fresh, report(job_id, item, "004"), method=method, token=token)
            assert status == 403, (token, method, body)
    # The documented direct call, without the helper.
    answer = fresh.gateway.handle(
        "GET", ROUTE, [("token", "bad"), *report(job_id, item, "004").items()], {}, b""
    )
    assert answer.status == 403

    assert stored(job_id, item["to"]) == item
    assert get_job(api, job_id)["counts"] == before["counts"]


def test_get_callback_moves_the_recipient_and_the_counters_once(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = counts_without_total(get_job(api, job_id))
    # Field names in any case: clients and Clickatell's transports spell them differently.
    fields = {
        "API_ID": "3456789",
        "APIMSGID": item["api_message_id"],
        "climsgid": job_id,
        "Timestamp": "1764096005",
        "TO": item["to"],
        "Status": "004",
        "CHARGE": "0.800000",
    }

    status, body = callback(fresh, fields)

    assert (status, body) == (200, "applied")
    after = stored(job_id, item["to"])
    assert after["status"] == "delivered"
    assert after["delivery_status"] == "004"
    assert after["charge"] == "0.800000"
    assert after["reported_at"] == "1764096005"
    assert after["api_message_id"] == item["api_message_id"]
    assert after["updated_at"] >= item["updated_at"]
    counts = counts_without_total(get_job(api, job_id))
    assert counts == {**before, "submitted": before["submitted"] - 1, "delivered": before["delivered"] + 1}

    # The same report again, and an intermediate status after the final one: nothing moves.
    assert callback(fresh, fields) == (200, "unchanged")
    assert callback(fresh, {**fields, "Status": "003"}) == (200, "unchanged")
    assert callback(fresh, {**fields, "Status": "002"}) == (200, "unchanged")
    assert counts_without_total(get_job(api, job_id)) == counts
    again = stored(job_id, item["to"])
    assert again["status"] == "delivered" and again["delivery_status"] == "004"
    # A different final status after the final one does not move it either (first final wins).
    assert callback(fresh, {**fields, "Status": "007"}) == (200, "unchanged")
    assert stored(job_id, item["to"])["status"] == "delivered"
    assert stored(job_id, item["to"])["delivery_status"] == "004"
    assert counts_without_total(get_job(api, job_id)) == counts


def test_post_form_body_works_like_get(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    first, second = list(items.values())[:2]
    before = counts_without_total(get_job(api, job_id))

    assert callback(fresh, report(job_id, first, "007"), method="POST") == (200, "applied")

    after = stored(job_id, first["to"])
    assert after["status"] == "failed"
    assert after["delivery_status"] == "007" and after["error_code"] == "007"
    assert after["error"] == "Error delivering message"
    assert after["charge"] == "1.000000" and after["reported_at"] == "1764096005"
    assert callback(fresh, report(job_id, first, "007"), method="POST") == (200, "unchanged")

    # As a function URL delivers a form POST in AWS: the body base64-encoded.
    function = fresh.function("CallbackFunction")
    body = urlencode(report(job_id, second, "010")).encode()
    event = function_url_event(
        "POST",
        ROUTE,
        query=[("token", fresh.config.callback_token)],
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=body,
    )
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    answer = load_handler(function)(
        event, LocalContext(function.logical_id, function.memory_mb, function.timeout_s)
    )
    assert (answer["statusCode"], answer["body"]) == (200, "applied")
    assert stored(job_id, second["to"])["status"] == "expired"
    assert stored(job_id, second["to"])["delivery_status"] == "010"

    counts = counts_without_total(get_job(api, job_id))
    assert counts == {**before, "submitted": before["submitted"] - 2, "failed": 1, "expired": 1}


def test_unknown_message_is_200_and_writes_nothing(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)

    for cli_msg_id in ("order-42", "", "f" * 32, job_id.upper()):
        status, body = callback(fresh, report(job_id, item, "004", cliMsgId=cli_msg_id))
        assert (status, body) == (200, "unknown_message"), cli_msg_id

    assert stored(job_id, item["to"]) == item
    assert get_job(api, job_id)["counts"] == before["counts"]


def test_a_number_that_is_not_in_a_finished_job_is_200_not_503(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    """Every number of a finished job has its result, so a report for another number is an unknown
    message (200), not a result still to come: a 503 has Clickatell retry it for three days."""
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)
    assert before["status"] == "completed"

    status, body = callback(fresh, report(job_id, item, "004", to="27829999999"))

    assert (status, body) == (200, "unknown_message")
    assert runtime.store().get_recipient(job_id, "27829999999") is None
    assert get_job(api, job_id)["counts"] == before["counts"]


def test_a_different_api_msg_id_is_ignored(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)

    status, body = callback(fresh, report(job_id, item, "004", apiMsgId="0" * 32))

    assert (status, body) == (200, "unknown_message")
    assert stored(job_id, item["to"]) == item
    assert get_job(api, job_id)["counts"] == before["counts"]


def test_status_001_and_unmapped_codes_change_nothing(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)

    for code in ("001", "1", "013", "099"):
        assert callback(fresh, report(job_id, item, code)) == (200, "unchanged"), code

    assert stored(job_id, item["to"]) == item
    assert get_job(api, job_id)["counts"] == before["counts"]


def test_an_intermediate_status_is_recorded_without_a_move(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    before = get_job(api, job_id)

    assert callback(fresh, report(job_id, item, "003")) == (200, "unchanged")

    assert stored(job_id, item["to"]) == item  # a report that changes nothing writes nothing
    assert get_job(api, job_id)["counts"] == before["counts"]
    # The final one still moves it.
    assert callback(fresh, report(job_id, item, "004")) == (200, "applied")
    assert stored(job_id, item["to"])["delivery_status"] == "004"


def test_statuses_map_onto_our_model(api: Any, drain: Any, fresh: LocalStack) -> None:
    """Every Clickatell code of the API doc, sent as the final report of one recipient each."""
    mapping = {
        "002": "submitted",
        "003": "submitted",
        "008": "submitted",
        "011": "submitted",
        "001": "submitted",
        "004": "delivered",
        "005": "failed",
        "006": "failed",
        "007": "failed",
        "009": "failed",
        "012": "failed",
        "014": "failed",
        "010": "expired",
    }
    to = numbers(len(mapping), start=3_000_000)
    job_id = submit(api, to)
    drain()
    items = {number: stored(job_id, number) for number in to}

    for (code, expected), number in zip(mapping.items(), to, strict=True):
        status, body = callback(fresh, report(job_id, items[number], code))
        assert status == 200, (code, body)
        after = stored(job_id, number)
        assert after["status"] == expected, (code, after)
        # A code that moves the recipient is recorded with it; one that keeps it `submitted` writes nothing.
        assert after.get("delivery_status") == (code if expected != "submitted" else None), (code, after)
    check_counts_are_the_tally(api, job_id, len(to))


def test_callback_before_the_send_result_is_stored_is_503(api: Any, fresh: LocalStack) -> None:
    """The job exists but the sender has not stored this number's result yet: Clickatell must retry."""
    to = numbers(3, start=4_000_000)
    job_id = submit(api, to)  # queued, not sent yet
    fields = {"apiMsgId": "a" * 32, "cliMsgId": job_id, "to": to[0], "status": "004", "charge": "1.000000"}

    status, body = callback(fresh, fields)

    assert (status, body) == (503, "not_ready")
    assert runtime.store().get_recipient(job_id, to[0]) is None
    job = get_job(api, job_id)
    assert job["counts"]["queued"] == 3 and job["counts"]["delivered"] == 0


def test_a_callback_without_a_number_or_status_is_400(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    item = next(iter(items.values()))
    fields = report(job_id, item, "004")

    assert callback(fresh, {k: v for k, v in fields.items() if k != "to"})[0] == 400
    assert callback(fresh, {**fields, "status": "delivered"})[0] == 400
    assert stored(job_id, item["to"]) == item


class SimulatedCrash(RuntimeError):
    """The sender's container dying (timeout, OOM) after it stored a chunk's results, before marking it
    done."""


class _AnHourLater:
    @staticmethod
    def time() -> float:
        return time.time() + 3600


def test_a_delivery_report_survives_the_sweeper_settling_the_abandoned_chunk(
    api: Any, fresh: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender stored a chunk's results (Clickatell gave every number an ID) and died before settling
    it. Delivery reports arrive and move recipients to `delivered`. When the claim's lease runs out, the
    sweeper settles the chunk: it must not overwrite those recipients (nor the IDs of the others), and the
    job's counts must still be the tally of the items."""
    to = numbers(10, start=6_000_000)
    job_id = submit(api, to)
    sqs = clients(fresh.endpoint)[1]
    queue_url = fresh.resources.queue_url("SendQueue")
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    queued_job, chunks = parse_message(message["Body"])
    assert queued_job == job_id

    def crash(self: Store, *args: Any, **kwargs: Any) -> bool:
        raise SimulatedCrash("the sender died after storing the results")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "mark_done", crash)
        with pytest.raises(SimulatedCrash):
            runtime.sender().process(job_id, chunks, lambda: 600_000)
    items = {number: stored(job_id, number) for number in to}
    assert {item["status"] for item in items.values()} == {"submitted"}
    assert all(item["api_message_id"] for item in items.values())

    delivered = to[:3]
    for number in delivered:
        assert callback(fresh, report(job_id, items[number], "004")) == (200, "applied")

    monkeypatch.setattr(sweeping, "time", _AnHourLater)  # the claim's lease has run out
    fresh.invoke_scheduled("SweeperFunction")

    job = get_job(api, job_id)
    print(f"\nafter the sweep: {job['status']} {job['counts']}")
    assert job["status"] == "completed", job
    after = {number: stored(job_id, number) for number in to}
    for number in delivered:
        assert after[number]["status"] == "delivered", after[number]
        assert after[number]["delivery_status"] == "004", after[number]
    for number in to:
        assert after[number].get("api_message_id") == items[number]["api_message_id"], after[number]
    check_counts_are_the_tally(api, job_id, len(to))


def _one_api_callback(stack: LocalStack, updates: list[dict[str, Any]]) -> tuple[int, str]:
    """A One API status callback (`event.messageStatusUpdate`) POSTed through the local function URL."""
    document = {
        "integrationId": "i1",
        "integrationName": "My integration",
        "event": {"messageStatusUpdate": updates},
    }
    answer = stack.gateway.handle(
        "POST",
        ROUTE,
        [("token", stack.config.callback_token)],
        {"Content-Type": "application/json"},
        json.dumps(document).encode(),
    )
    return answer.status, answer.body.decode()


def test_every_update_of_a_one_api_status_callback_is_applied_on_its_own(
    api: Any, fresh: LocalStack, sent_job: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    job_id, items = sent_job
    first, second = list(items.values())[:2]

    def update(item: dict[str, Any], code: int, **extra: Any) -> dict[str, Any]:
        return {
            "channel": "sms",
            "timestamp": 1764096005000,
            "statusCode": code,
            "status": "x",
            "messageId": item["api_message_id"],
            "clientMessageId": job_id,
            **extra,
        }

    status, body = _one_api_callback(
        fresh,
        [
            update(first, 5, to=first["to"]),  # DEVICE_ACK
            update(second, 23),  # Clickatell's documented update: no `to`, so no recipient to address
            update(second, 23, to=second["to"], clientMessageId="order-42"),  # not sent by us
        ],
    )

    assert (status, body) == (200, "0: applied\n1: invalid: to is missing\n2: unknown_message")
    assert stored(job_id, first["to"])["status"] == "delivered"
    assert stored(job_id, first["to"])["reported_at"] == "1764096005"
    assert stored(job_id, second["to"]) == second
    # Clickatell retries a refused callback: the same updates again change nothing.
    assert _one_api_callback(fresh, [update(first, 5, to=first["to"])]) == (200, "unchanged")
    # Nothing readable at all, or more updates than a callback of ours can hold: 400 naming why.
    assert _one_api_callback(fresh, [update(second, 23)]) == (400, "invalid: to is missing")
    status, body = _one_api_callback(fresh, [update(second, 23, to=second["to"])] * 101)
    assert status == 400 and "more than 100" in body
    assert stored(job_id, second["to"]) == second


def test_a_one_api_update_whose_send_result_is_not_stored_makes_the_whole_callback_503(
    api: Any, fresh: LocalStack
) -> None:
    to = numbers(2, start=4_100_000)
    job_id = submit(api, to)  # queued, not sent yet
    updates = [{"messageId": "a" * 32, "clientMessageId": job_id, "to": n, "statusCode": 5} for n in to]
    updates.append({"messageId": "b" * 32, "clientMessageId": "c" * 32, "to": to[0], "statusCode": 5})

    assert _one_api_callback(fresh, updates) == (503, "0: not_ready\n1: not_ready\n2: unknown_message")
    assert runtime.store().get_recipient(job_id, to[0]) is None
