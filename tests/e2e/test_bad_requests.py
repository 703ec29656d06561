"""Bad requests over HTTP: each gets its 4xx in the contract's error shape, no job id, and nothing of
it reaches the send queue or Clickatell."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.e2e.conftest import API_KEY, E2EStack, numbers

pytestmark = pytest.mark.e2e

GOOD = {"to": ["27823000001"], "text": "hello"}
OVER_THE_LIMIT = ",".join(numbers(100_001, start=0))


@dataclasses.dataclass(frozen=True)
class Bad:
    body: Any = dataclasses.field(default=None, repr=False)  # some are megabytes
    raw: bytes | None = None
    api_key: str | None = API_KEY
    status: tuple[int, ...] = (400,)
    field: str | None = None
    code: str | None = None
    content_type: str = "application/json"


BATTERY = {
    "missing to": Bad({"text": "hello"}, field="to"),
    "missing text": Bad({"to": ["27823000001"]}, field="text"),
    "empty text": Bad({**GOOD, "text": ""}, field="text"),
    "non-JSON body": Bad(raw=b"{not json", code="invalid_json"),
    "JSON array body": Bad(raw=b'[{"to": ["27823000001"], "text": "hello"}]', code="invalid_body"),
    "empty body": Bad(raw=b""),
    "to is a number": Bad({**GOOD, "to": 27823000001}, field="to"),
    "to items are numbers": Bad({**GOOD, "to": [27823000001]}, field="to"),
    "text is a number": Bad({**GOOD, "text": 5}, field="text"),
    "callback is a string": Bad({**GOOD, "callback": "3"}, field="callback"),
    "callback out of range": Bad({**GOOD, "callback": 8}, field="callback"),
    "mo is a string": Bad({**GOOD, "mo": "yes"}, field="mo"),
    "unknown field": Bad({**GOOD, "colour": "blue"}, field="colour"),
    "100,001 numbers": Bad({"to": OVER_THE_LIMIT, "text": "hi"}, field="to", code="too_many_recipients"),
    "all numbers invalid": Bad(
        {**GOOD, "to": ["0821234567", "27999000001", "12345"]}, field="to", code="no_valid_recipient"
    ),
    "binary text not hex": Bad({**GOOD, "encoding": "binary", "text": "XYZ"}, field="text"),
    "udh not hex": Bad({**GOOD, "encoding": "binary", "text": "0A0B", "udh": "XY"}, field="udh"),
    "udh without binary": Bad({**GOOD, "udh": "0605040B8423F0"}, field="udh"),
    # The default local stack allows no private webhook host, as on AWS.
    "callback URL to the simulator": Bad(
        {**GOOD, "status_callback_url": "https://127.0.0.1:8099/_sim/reset"}, field="status_callback_url"
    ),
    "callback URL over http": Bad(
        {**GOOD, "status_callback_url": "http://127.0.0.1:8099/_sim/reset"}, field="status_callback_url"
    ),
    "callback URL to the metadata service": Bad(
        {**GOOD, "status_callback_url": "https://169.254.169.254/latest/"}, field="status_callback_url"
    ),
    "body over 6 MB": Bad({**GOOD, "text": "a" * 7_000_000}, status=(413,), code="body_too_large"),
    # 2.1 million characters, 6.3 MB: the limit counts bytes.
    "6 MB of multi-byte text": Bad(
        raw=json.dumps({**GOOD, "text": "€" * 2_100_000}, ensure_ascii=False).encode(),
        status=(413,),
        code="body_too_large",
    ),
    # API Gateway's own limit: its answer is shaped by the template's DEFAULT_4XX gateway response.
    "body over 10 MB": Bad({**GOOD, "text": "a" * 11_000_000}, status=(413,)),
    "body sent as text/plain": Bad(GOOD, content_type="text/plain", status=(400, 415)),
    "missing API key": Bad(GOOD, api_key=None, status=(403,), field="x-api-key"),
    "wrong API key": Bad(GOOD, api_key="not-the-key", status=(403,), field="x-api-key"),
}


@pytest.fixture(scope="module")
def answers(stack: E2EStack) -> dict[str, tuple[int, Any]]:
    """Every bad request, sent once against a freshly reset simulator."""
    stack.sim("POST", "reset")
    out = {}
    for name, bad in BATTERY.items():
        out[name] = stack.api(
            "POST",
            "/v1/messages",
            bad.body,
            raw=bad.raw,
            api_key=bad.api_key,
            headers={"Content-Type": bad.content_type},
        )
    return out


@pytest.mark.parametrize("name", list(BATTERY))
def test_bad_request_gets_its_4xx_in_the_error_shape(answers: dict[str, tuple[int, Any]], name: str) -> None:
    expected_status, expected_field, expected_code = (
        BATTERY[name].status,
        BATTERY[name].field,
        BATTERY[name].code,
    )
    status, answer = answers[name]

    assert status in expected_status, answer
    assert isinstance(answer, dict) and set(answer) == {"error"}, answer  # so no job_id either
    assert set(answer["error"]) == {"code", "message", "field"}, answer
    assert answer["error"]["code"] and answer["error"]["message"]
    if expected_field is not None:
        assert answer["error"]["field"] == expected_field, answer
    if expected_code is not None:
        assert answer["error"]["code"] == expected_code, answer


def test_the_limit_message_names_both_numbers(answers: dict[str, tuple[int, Any]]) -> None:
    assert answers["100,001 numbers"][1]["error"]["message"] == (
        "100001 numbers is more than the limit of 100000; split the job"
    )


def test_nothing_reached_the_queue_or_the_simulator(
    answers: dict[str, tuple[int, Any]], stack: E2EStack
) -> None:
    """Had any bad request queued a batch, the running sender would have posted it to the simulator.
    A good job sent after the battery and finished is the only one the simulator has seen."""
    stray = stack.sim_requests()
    assert stray == [], f"a bad request reached Clickatell: {stray}"

    accepted = stack.send({"to": ["27823000002"], "text": "the only job"})
    stack.wait_finished(accepted["job_id"], timeout_s=60)

    stats = stack.sim_stats()
    assert stats["requests"] == 1 and stats["recipients_accepted"] == 1, stats
    assert [r["params"]["climsgid"] for r in stack.sim_requests()] == [accepted["job_id"]]
