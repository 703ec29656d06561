"""A request without the right API key never reaches the API handler: 403 in the error shape, no job,
nothing queued, nothing sent. Every operation of openapi.json is tried, so a new route is covered."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.functions import load_handler, load_module
from local.stack import LocalStack
from scripts.generate_openapi import OUTPUT as DOCUMENT
from tests.security.conftest import API_KEY, table_items

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

JOB_ID = "0123456789abcdef0123456789abcdef"
BODY = {"to": ["27821234567"], "text": "must not be sent"}


def _operations() -> list[tuple[str, str]]:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    )


OPERATIONS = _operations()
# What a caller might send instead of the key: (headers, query).
BAD_CREDENTIALS: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {
    "no key": ({}, []),
    "empty key": ({"x-api-key": ""}, []),
    "wrong key": ({"x-api-key": "not-the-key"}, []),
    "key upper-cased": ({"x-api-key": API_KEY.upper()}, []),
    "key cut short": ({"x-api-key": API_KEY[:-1]}, []),
    "key plus a char": ({"x-api-key": API_KEY + "0"}, []),
    "key as bearer token": ({"Authorization": f"Bearer {API_KEY}"}, []),
    "key in the query": ({}, [("x-api-key", API_KEY), ("api_key", API_KEY)]),
    "key in another header": ({"x-api-key-id": API_KEY}, []),
}


@pytest.fixture
def api_calls(secured_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every invocation of the API function's handler during the test."""
    function = secured_stack.function("ApiFunction")
    real: Callable[..., Any] = load_handler(function)
    calls: list[Any] = []

    def counting(event: dict[str, Any], context: Any) -> Any:
        calls.append(event)
        return real(event, context)

    monkeypatch.setattr(load_module(function), function.handler_attr, counting)
    yield calls


def _call(
    stack: LocalStack, method: str, path: str, headers: dict[str, str], query: list[tuple[str, str]]
) -> tuple[int, Any]:
    sent = {"Content-Type": "application/json", **headers}
    body = json.dumps(BODY).encode() if method == "POST" else b""
    path = path.replace("{job_id}", JOB_ID).replace("{number}", BODY["to"][0])
    answer = stack.gateway.handle(method, path, query, sent, body)
    return answer.status, json.loads(answer.body) if answer.body else None


def test_every_operation_is_secured() -> None:
    # Jobs (6: POST and GET /v1/messages, GET and DELETE a job, its recipients, its rejected inputs),
    # the suppression list (5) and inbound messages (1): every route of the REST API.
    assert len(OPERATIONS) == 12, OPERATIONS


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_without_the_right_key_the_handler_is_never_reached(
    secured_stack: LocalStack, api_calls: list[Any], method: str, path: str, credentials: str
) -> None:
    headers, query = BAD_CREDENTIALS[credentials]
    items_before = table_items(secured_stack)
    depth_before = secured_stack.queue_depth()
    assert secured_stack.simulator is not None
    sent_before = secured_stack.simulator.stats()["requests"]

    status, body = _call(secured_stack, method, path, headers, query)

    assert status == 403, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    assert api_calls == [], "the API handler was invoked"
    assert table_items(secured_stack) == items_before
    assert secured_stack.queue_depth() == depth_before
    assert secured_stack.simulator.stats()["requests"] == sent_before


def test_a_wrong_key_cannot_cancel_a_job(secured_stack: LocalStack, api_calls: list[Any]) -> None:
    status, accepted = _call(secured_stack, "POST", "/v1/messages", {"x-api-key": API_KEY}, [])
    assert status == 202, accepted
    job_id = accepted["job_id"]
    api_calls.clear()

    answer = secured_stack.gateway.handle(
        "DELETE", f"/v1/messages/{job_id}", [], {"x-api-key": "not-the-key"}, b""
    )

    assert answer.status == 403
    assert api_calls == []
    status, job = _call(secured_stack, "GET", f"/v1/messages/{job_id}", {"x-api-key": API_KEY}, [])
    assert status == 200 and job["status"] == "queued", job


def test_the_right_key_reaches_the_handler(secured_stack: LocalStack, api_calls: list[Any]) -> None:
    """The control: the same request with the key is invoked (here: 404, no such job)."""
    status, body = _call(secured_stack, "GET", "/v1/messages/{job_id}", {"x-api-key": API_KEY}, [])

    assert status == 404, body
    assert len(api_calls) == 1
