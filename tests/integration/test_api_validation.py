"""Every bad request gets a 4xx naming the field and the reason, and nothing is written or queued."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.stack import LocalStack

GOOD = {"to": ["27821234567"], "text": "hello"}

BAD_REQUESTS = [
    pytest.param({"text": "hello"}, "to", id="missing to"),
    pytest.param({**GOOD, "text": ""}, "text", id="empty text"),
    pytest.param({**GOOD, "to": []}, "to", id="empty list"),
    pytest.param({**GOOD, "to": 27821234567}, "to", id="to is a number"),
    pytest.param({**GOOD, "to": [27821234567]}, "to", id="to items are numbers"),
    pytest.param({**GOOD, "text": 5}, "text", id="text is a number"),
    pytest.param({**GOOD, "callback": 8}, "callback", id="callback out of range"),
    pytest.param({**GOOD, "callback": "3"}, "callback", id="callback is a string"),
    pytest.param({**GOOD, "mo": "yes"}, "mo", id="mo is a string"),
    pytest.param({**GOOD, "mo": True}, "from", id="mo without from"),
    pytest.param({**GOOD, "encoding": "latin1"}, "encoding", id="unknown encoding"),
    pytest.param({**GOOD, "msg_type": "SMS_NOKIA_OLOGO"}, "msg_type", id="unsupported msg_type"),
    pytest.param({**GOOD, "from": "a sender id that is far too long"}, "from", id="from too long"),
    pytest.param({**GOOD, "from": "My Shop"}, "from", id="from with a space (Clickatell: 106)"),
    pytest.param({**GOOD, "from": "+27999000000"}, "from", id="from with a plus"),
    pytest.param({**GOOD, "from": "1" * 17}, "from", id="from of 17 digits"),
    pytest.param({**GOOD, "from": ""}, "from", id="empty from"),
    pytest.param({**GOOD, "mo": True, "from": "MyShop"}, "from", id="mo from a name, not a number"),
    pytest.param({**GOOD, "colour": "blue"}, "colour", id="unknown field"),
    pytest.param({**GOOD, "to": ["0821234567", "27999000001"]}, "to", id="all numbers invalid"),
    pytest.param({**GOOD, "encoding": "binary", "text": "XYZ"}, "text", id="binary text not hex"),
    pytest.param(
        {**GOOD, "encoding": "binary", "text": "0A0B", "udh": "05"}, "udh", id="udh length byte wrong"
    ),
    pytest.param({**GOOD, "udh": "0605040B8423F0"}, "udh", id="udh without binary"),
    pytest.param({**GOOD, "udh": "XY"}, "udh", id="udh not hex"),
    pytest.param({**GOOD, "encoding": "gsm7", "text": "привет"}, "text", id="not gsm7"),
    pytest.param({**GOOD, "text": "x" * 1000}, "text", id="too many parts"),
    pytest.param({**GOOD, "client_reference": ""}, "client_reference", id="empty client reference"),
]


def assert_nothing_happened(stack: LocalStack) -> None:
    assert stack.queue_depth() == 0
    assert stack.simulator is not None and stack.simulator.stats()["requests"] == 0


@pytest.mark.parametrize(("body", "field"), BAD_REQUESTS)
def test_bad_request_is_400_naming_the_field(
    api: Any, fresh: LocalStack, body: dict[str, Any], field: str
) -> None:
    status, answer = api.call("POST", "/v1/messages", body)

    assert status == 400, answer
    assert answer["error"]["field"] == field
    assert answer["error"]["code"] and answer["error"]["message"]
    assert_nothing_happened(fresh)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"text"', b"", '{"to": "27821234567", "text": "\xff"}'.encode("latin-1")],
)
def test_body_that_is_not_a_json_object_is_400(api: Any, fresh: LocalStack, raw: bytes) -> None:
    status, answer = api.call("POST", "/v1/messages", raw=raw)

    assert status == 400, answer
    assert set(answer["error"]) == {"code", "message", "field"}
    assert_nothing_happened(fresh)


def test_more_than_the_recipient_limit_is_400(api: Any, fresh: LocalStack) -> None:
    to = ",".join(f"2782{i:07d}" for i in range(100_001))
    status, answer = api.call("POST", "/v1/messages", {"to": to, "text": "hi"})

    assert status == 400
    assert answer["error"] == {
        "code": "too_many_recipients",
        "message": "100001 numbers is more than the limit of 100000; split the job",
        "field": "to",
    }
    assert_nothing_happened(fresh)


def test_missing_or_wrong_api_key_is_403_and_reaches_no_handler(api: Any, fresh: LocalStack) -> None:
    for key in (None, "wrong-key"):
        status, answer = api.call("POST", "/v1/messages", GOOD, api_key=key)
        assert status == 403
        assert answer["error"]["field"] == "x-api-key"
    assert_nothing_happened(fresh)


def test_unknown_job_is_404_and_malformed_id_is_400(api: Any) -> None:
    assert api.call("GET", "/v1/messages/" + "0" * 32)[0] == 404
    assert api.call("GET", "/v1/messages/" + "0" * 32 + "/recipients")[0] == 404
    assert api.call("DELETE", "/v1/messages/" + "0" * 32)[0] == 404
    status, answer = api.call("GET", "/v1/messages/not-a-job")
    assert status == 400 and answer["error"]["field"] == "job_id"


def test_bad_page_token_and_limit_are_400(api: Any, drain: Any) -> None:
    status, accepted = api.call("POST", "/v1/messages", GOOD)
    assert status == 202
    path = f"/v1/messages/{accepted['job_id']}/recipients"
    status, answer = api.call("GET", path, query=[("next_token", "garbage")])
    assert status == 400 and answer["error"]["field"] == "next_token"
    status, answer = api.call("GET", path, query=[("limit", "0")])
    assert status == 400 and answer["error"]["field"] == "limit"
    status, answer = api.call("GET", path, query=[("status", "lost")])
    assert status == 400 and answer["error"]["field"] == "status"


def test_a_valid_request_answers_what_was_normalised(api: Any) -> None:
    to = "+27 82 123 4567, 0027821234567, 27821234568, 0821234567"
    status, answer = api.call("POST", "/v1/messages", {"to": to, "text": "Ω", "client_reference": "order-42"})

    assert status == 202
    assert answer["accepted"] == 2
    assert answer["duplicates_removed"] == 1
    assert answer["rejected"] == [
        {"to": "0821234567", "reason": "not in international format: a leading 0 needs a country code"}
    ]
    assert answer["encoding"] == "gsm7"
    assert answer["client_reference"] == "order-42"
    assert answer["links"]["self"] == f"/v1/messages/{answer['job_id']}"


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/messages"), ("POST", "/v1/messages/" + "0" * 32), ("GET", "/v1/nothing-here")],
)
def test_a_method_or_path_the_api_lacks_is_api_gateways_403(
    api: Any, fresh: LocalStack, method: str, path: str
) -> None:
    # What API Gateway's REST API answers (MISSING_AUTHENTICATION_TOKEN through DEFAULT_4XX), with a
    # valid key too: never a 405 or a 404 that only the local stack would give.
    status, answer = api.call(method, path, GOOD)
    assert status == 403
    assert answer["error"] == {
        "code": "MISSING_AUTHENTICATION_TOKEN",
        "message": "Missing Authentication Token",
        "field": None,
    }
    assert_nothing_happened(fresh)


@pytest.mark.parametrize("encoded", [False, True], ids=["utf-8 text", "base64"])
def test_the_body_limit_counts_bytes_not_characters(api: Any, fresh: LocalStack, encoded: bool) -> None:
    """2.1 million euro signs are 2.1 million characters but 6.3 MB on the wire: over the limit."""
    body = json.dumps({**GOOD, "text": "€" * 2_100_000}, ensure_ascii=False).encode()
    assert len(body.decode()) < 6_000_000 < len(body)
    # A byte that is not UTF-8 makes the local gateway pass the body base64-encoded, as API Gateway does.
    raw = body + b"\xff" if encoded else body

    code, answer = api.call("POST", "/v1/messages", raw=raw)

    assert code == 413, answer
    assert answer["error"]["code"] == "body_too_large"
    assert str(len(raw)) in answer["error"]["message"]
    assert_nothing_happened(fresh)
