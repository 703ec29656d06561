# ruff: noqa: F811 - fixtures imported from tests.integration.faults are redefined as parameters
"""Issue 10: the One API provider. The adapter against the simulator over a real socket, a job through
the real handlers with `CLICKATELL_API=one`, the options a `one` deployment refuses, and the
simulator's One API callbacks in their JSON shape."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3
from bulksms.adapters.one_api import OneApiClient
from bulksms.domain import one_api
from bulksms.domain.attempts import NOT_SENT_CODE
from bulksms.domain.encoding import encode_text
from bulksms.domain.message import Message
from bulksms.domain.status import RecipientStatus, delivery_status

from local.simulator import ClickatellSimulator
from local.stack import LocalStack
from tests.integration.faults import (  # noqa: F401 - fixtures
    check_every_number_once,
    harness,
    job_items,
    settings_env,
)
from tests.integration.jobs import numbers, submit

S = RecipientStatus
KEY = "sim-api-key"
JOB = "0123456789abcdef0123456789abcdef"
TEXT = "Your code is 1234"


def _message(text: str = TEXT) -> Message:
    encoded = encode_text(text)
    return Message(encoded.encoding, encoded.payload, encoded.parts)


@pytest.fixture
def sim() -> Iterator[ClickatellSimulator]:
    with ClickatellSimulator(api_key=KEY, seed=3, stall_seconds=1.0) as simulator:
        yield simulator


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    http = urllib3.PoolManager(maxsize=2, retries=False, timeout=urllib3.Timeout(connect=0.5, read=0.5))
    yield http
    http.clear()


def client(sim: ClickatellSimulator, pool: urllib3.PoolManager, key: str = KEY) -> OneApiClient:
    return OneApiClient(sim.url, lambda: key, attempts=3, http=pool, sleep=lambda seconds: None)


# ---- the adapter on the wire ------------------------------------------------------------------------


def test_numbers_are_submitted_with_the_ids_the_simulator_gave(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    to = numbers(3)
    verdict = client(sim, pool).send(_message("Привет 😀"), to, JOB)
    assert [r.status for r in verdict.results] == [S.SUBMITTED] * 3
    for result in verdict.results:
        [stored] = sim.messages_for(result.to)
        assert stored["api_msg_id"] == result.api_message_id
        assert stored["cli_msg_id"] == one_api.recipient_message_id(JOB, result.to)
    stats = sim.stats()
    assert stats["requests_by_api"] == {"http": 0, "one": 1}
    assert stats["recipients_accepted"] == 3 and stats["duplicate_sends"] == 0
    assert sim.requests[-1]["params"]["content"] == "Привет 😀"


def test_a_number_the_simulator_refuses_fails_with_the_one_api_code(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    verdict = client(sim, pool).send(_message(), ["27821000001", "2782"], JOB)
    assert verdict.results[0].status is S.SUBMITTED
    assert verdict.results[1].status is S.FAILED and verdict.results[1].error_code == "25"
    assert verdict.stop is None


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda sim: None, "1"),  # the wrong key, below
        (lambda sim: sim.set_faults(no_credit=True), "20"),
    ],
    ids=["bad-key", "no-credit"],
)
def test_account_errors_fail_the_chunk_and_stop_the_job(
    sim: ClickatellSimulator, pool: urllib3.PoolManager, setup: Any, code: str
) -> None:
    setup(sim)
    key = "wrong" if code == "1" else KEY
    verdict = client(sim, pool, key).send(_message(), numbers(2), JOB)
    assert {r.status for r in verdict.results} == {S.FAILED}
    assert verdict.stop is not None and verdict.stop.code == code
    assert sim.stats()["recipients_accepted"] == 0


def test_more_than_a_request_may_carry_is_refused_by_the_simulator(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    verdict = client(sim, pool).send(_message(), numbers(101), JOB)
    assert verdict.stop is None and {(r.status, r.error_code) for r in verdict.results} == {(S.FAILED, "22")}
    assert sim.stats()["recipients_accepted"] == 0


def test_a_gateway_503_is_retried_and_then_sent_once(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    original = sim.send_one
    calls: list[int] = []

    def flaky(api_key: str, body: bytes) -> Any:
        calls.append(1)
        if len(calls) < 3:
            from tests.integration.faults import http_error

            return http_error(503)
        return original(api_key, body)

    sim.send_one = flaky  # type: ignore[method-assign]
    verdict = client(sim, pool).send(_message(), numbers(2), JOB)
    assert len(calls) == 3 and {r.status for r in verdict.results} == {S.SUBMITTED}
    assert sim.stats()["recipients_accepted"] == 2


@pytest.mark.parametrize("fault", ["timeout", "reset"])
def test_a_lost_answer_leaves_the_numbers_unknown_never_resent(
    sim: ClickatellSimulator, pool: urllib3.PoolManager, fault: str
) -> None:
    sim.set_faults(**{fault: 1.0})
    verdict = client(sim, pool).send(_message(), numbers(2), JOB)
    assert {r.status for r in verdict.results} == {S.UNKNOWN}
    stats = sim.stats()
    assert stats["requests"] == 1 and stats["recipients_accepted"] == 2


def test_connection_refused_is_retried_then_not_sent(pool: urllib3.PoolManager) -> None:
    from tests.integration.faults import closed_port

    adapter = OneApiClient(
        f"http://127.0.0.1:{closed_port()}", lambda: KEY, attempts=2, http=pool, sleep=lambda s: None
    )
    verdict = adapter.send(_message(), numbers(2), JOB)
    assert {r.error_code for r in verdict.results} == {NOT_SENT_CODE}


@pytest.mark.parametrize(
    ("body", "key", "status", "code"),
    [
        (b"not json", KEY, 400, 21),
        (b'{"messages": []}', KEY, 400, 21),
        (b'{"messages": [{"to": "27821000001", "content": "x"}]}', "", 401, 1),
        (b'{"messages": [{"to": "27821000001", "content": ""}, 7]}', KEY, 400, 23),
        (b'{"messages": [{"to": "27821000001", "content": "x", "channel": "whatsapp"}]}', KEY, 400, 39),
    ],
)
def test_the_simulator_answers_bad_requests_like_the_one_api(
    sim: ClickatellSimulator, pool: urllib3.PoolManager, body: bytes, key: str, status: int, code: int
) -> None:
    answer = pool.request("POST", sim.url + one_api.PATH, body=body, headers={"Authorization": key})
    document = json.loads(answer.data)
    assert answer.status == status
    error = document["error"] or document["messages"][0]["error"]
    assert error["code"] == code and sim.stats()["recipients_accepted"] == 0


def test_requests_are_counted_per_api(sim: ClickatellSimulator, pool: urllib3.PoolManager) -> None:
    client(sim, pool).send(_message(), numbers(2), JOB)
    form = {
        "user": "sim-user",
        "password": "sim-password",
        "api_id": "3456789",
        "to": "27821000009",
        "text": "x",
    }
    assert pool.request("POST", sim.url + "/http/sendmsg", fields=form, encode_multipart=False).status == 200
    assert sim.stats()["requests_by_api"] == {"http": 1, "one": 1}


# ---- callbacks in the One API's shape ------------------------------------------------------------------


class JsonReceiver:
    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((self.headers.get("Content-Type", ""), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_callbacks_are_json_in_the_one_api_shape_and_map_onto_our_statuses(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    receiver = JsonReceiver()
    try:
        sim.configure(
            callback_url=receiver.url,
            callback_delay_ms=10,
            callback_status_mix={"004": 1, "007": 1},
            one_api_callback_shape="flat",
        )
        verdict = client(sim, pool).send(_message(), numbers(4), JOB)
        deadline = time.monotonic() + 10
        while len(receiver.received) < 8 and time.monotonic() < deadline:  # intermediate + final each
            time.sleep(0.02)
    finally:
        receiver.close()
    assert len(receiver.received) == 8
    ids = {r.to: r.api_message_id for r in verdict.results}
    finals: dict[str, RecipientStatus | None] = {}
    for content_type, callback in receiver.received:
        assert content_type == "application/json"
        assert set(callback) >= {"messageId", "clientMessageId", "to", "statusCode", "status", "timestamp"}
        assert callback["messageId"] == ids[callback["to"]]
        assert callback["clientMessageId"] == one_api.recipient_message_id(JOB, callback["to"])
        fields = one_api.report_fields(callback)
        assert fields is not None
        if callback["statusCode"] != 4:  # SENT_TO_SUPPLIER, the intermediate one
            finals[fields["to"]] = delivery_status(fields["status"])
    assert set(finals) == set(ids) and set(finals.values()) <= {S.DELIVERED, S.FAILED}


def test_the_simulator_sends_the_one_api_event_shape_whose_updates_name_no_number(
    sim: ClickatellSimulator, pool: urllib3.PoolManager
) -> None:
    receiver = JsonReceiver()
    try:
        sim.configure(callback_url=receiver.url, callback_delay_ms=10)  # the default shape
        verdict = client(sim, pool).send(_message(), numbers(2), JOB)
        deadline = time.monotonic() + 10
        while len(receiver.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        receiver.close()
    ids = {r.api_message_id: r.to for r in verdict.results}
    assert all(
        "to" not in update for _, c in receiver.received for update in c["event"]["messageStatusUpdate"]
    )
    updates = [one_api.status_updates(callback) for _, callback in receiver.received]
    assert len(updates) == 4 and all(u is not None and len(u) == 1 for u in updates)
    assert {u[0]["apiMsgId"] for u in updates if u} == set(ids)
    # No `to`, as Clickatell documents: the number comes back in our clientMessageId.
    assert all(u[0]["cliMsgId"] == JOB and u[0]["to"] == ids[u[0]["apiMsgId"]] for u in updates if u)


# ---- a job through the real handlers ---------------------------------------------------------------------


def test_a_job_through_the_one_api_is_sent_once_per_number_in_requests_of_at_most_100(
    api: Any, drain: Any, fresh: LocalStack, settings_env: Any
) -> None:
    settings_env(CLICKATELL_API="one")
    sim = fresh.simulator
    assert sim is not None
    sim.configure(one_api_callback_level=0)
    to = numbers(250)
    job_id = submit(api, to)
    drain()
    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 250
    stats = sim.stats()
    assert stats["requests_by_api"] == {"http": 0, "one": 3}
    assert stats["max_numbers_per_request"] == 100 and stats["duplicate_sends"] == 0
    [stored] = sim.messages_for(to[123])
    assert stored["cli_msg_id"] == one_api.recipient_message_id(job_id, to[123])
    assert stored["api_msg_id"] == by_number[to[123]]["api_message_id"]


def test_one_api_callbacks_move_every_recipient_through_the_report_path(
    api: Any, drain: Any, fresh: LocalStack, settings_env: Any
) -> None:
    """The simulator pushes the One API's JSON callbacks to the stack's callback URL (intermediate,
    then final, in the documented shape: no `to`); each recipient ends with the status its final
    callback reported."""
    settings_env(CLICKATELL_API="one")
    sim = fresh.simulator
    assert sim is not None
    sim.configure(callback_delay_ms=20, callback_status_mix={"004": 3, "007": 1})
    to = numbers(120)
    job_id = submit(api, to, callback=3)
    drain()
    deadline = time.monotonic() + 60
    while (stats := sim.stats())["callbacks_pending"] and time.monotonic() < deadline:
        time.sleep(0.05)

    assert stats["callbacks_pending"] == 0 and stats["callbacks_failed"] == 0, stats
    assert stats["callbacks_sent"] == 2 * len(to)
    by_status = stats["callbacks_by_status"]
    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["counts"]["delivered"] == by_status.get("004", 0)
    assert job["counts"]["failed"] == by_status.get("007", 0)
    assert job["counts"]["delivered"] + job["counts"]["failed"] == len(to)
    for number, item in by_number.items():
        final = sim.message(item["api_message_id"])
        assert final is not None and final["to"] == number
        expected = {"004": "delivered", "007": "failed"}[final["status"]]
        assert item["status"] == expected and item["delivery_status"] == final["status"], item
        assert item["reported_at"].isdigit()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"msg_type": "SMS_FLASH"}, "msg_type"),
        ({"text": "C0FFEE", "encoding": "binary"}, "encoding"),
        ({"text": "C0FFEE", "encoding": "binary", "udh": "0605040B8423F0"}, "udh"),
        ({"callback": 2}, "callback"),
        ({"encoding": "ucs2"}, "encoding"),
    ],
)
def test_a_one_deployment_refuses_options_the_one_api_lacks_and_writes_nothing(
    api: Any, fresh: LocalStack, settings_env: Any, extra: dict[str, Any], field: str
) -> None:
    settings_env(CLICKATELL_API="one")
    status, answer = api.call("POST", "/v1/messages", {"to": numbers(2), "text": TEXT, **extra})
    assert status == 400, answer
    assert answer["error"]["code"] == "unsupported_option" and answer["error"]["field"] == field
    assert "One API" in answer["error"]["message"]
    assert job_items(fresh) == [] and fresh.queue_depth() == 0


def test_the_same_options_are_sent_on_an_http_deployment(
    api: Any, fresh: LocalStack, settings_env: Any
) -> None:
    settings_env(CLICKATELL_API="http")
    status, answer = api.call(
        "POST", "/v1/messages", {"to": numbers(2), "text": TEXT, "msg_type": "SMS_FLASH"}
    )
    assert status == 202, answer
