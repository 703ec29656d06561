"""Property-based fuzz of the public API from openapi.json, over HTTP against the in-process local stack.

Schemathesis generates requests from the document (positive: fits the schemas; negative: violates
them); hypothesis is derandomized so CI sees the same requests every run. For every answer:
no 5xx; the status, content type and body are what the document says; every 4xx body is exactly
{"error": {"code": str, "message": str, "field": str | null}}; a 202 is a `SendAccepted`; and a
POST /v1/messages that was not accepted queued nothing and sent nothing to Clickatell.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from bulksms.models import JobView, RecipientsPage, SendAccepted
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import LocalStack
from scripts.generate_openapi import OUTPUT as DOCUMENT
from tests.contract.conftest import API_KEY

pytestmark = [
    pytest.mark.timeout(180),
    # Powertools warns once per request that a rejected request published no metric.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
EXAMPLES = {GenerationMode.POSITIVE: 700, GenerationMode.NEGATIVE: 520}
MIN_REQUESTS = 500  # per mode; both modes together send more than 1,000 requests
COMMON_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CLOSE = {"Connection": "close"}
SUCCESS_MODELS: dict[tuple[str, str, int], Any] = {
    ("POST", "/v1/messages", 202): SendAccepted,
    ("GET", "/v1/messages/{job_id}", 200): JobView,
    # Nothing sends during the fuzz: a cancel always leaves numbers to settle in the background.
    ("DELETE", "/v1/messages/{job_id}", 202): JobView,
    ("GET", "/v1/messages/{job_id}/recipients", 200): RecipientsPage,
}
# Recipients the phone-number library accepts (South Africa, UK, US), so positive cases get past
# validation often enough to be accepted and queued.
_VALID_PREFIXES = {"2782": 7, "2783": 7, "4479": 8, "1202555": 4}
VALID_NUMBER = st.sampled_from(sorted(_VALID_PREFIXES)).flatmap(
    lambda prefix: st.text(
        "0123456789", min_size=_VALID_PREFIXES[prefix], max_size=_VALID_PREFIXES[prefix]
    ).map(lambda rest: prefix + rest)
)
# True about three times in four (hypothesis leans to the first choice, so not a plain booleans()).
MOSTLY = st.sampled_from([True, True, True, False])
GSM_TEXT = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "Zs", "P"]), min_size=1)


@dataclass
class Target:
    """The stack under test and what the fuzz has seen of it."""

    stack: LocalStack
    session: requests.Session
    known_jobs: list[str]
    queue_depth: int = 0
    statuses: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    # Idempotency-Key -> the job its first accepted request created.
    idempotent_jobs: dict[str, str] = field(default_factory=dict)

    def requests_sent(self, mode: GenerationMode) -> int:
        return sum(count for (m, *_), count in self.statuses.items() if m == mode.value)


@pytest.fixture(scope="module")
def target(own_stack: LocalStack) -> Iterator[Target]:
    session = requests.Session()
    headers = {"x-api-key": API_KEY}
    known_jobs = []
    for to in (["27821234567", "27831234567"], "447911123456", ["12025550123"]):
        answer = session.post(
            f"{own_stack.api_url}/v1/messages", json={"to": to, "text": "fuzz seed"}, headers=headers
        )
        assert answer.status_code == 202, answer.text
        known_jobs.append(answer.json()["job_id"])
    yield Target(own_stack, session, known_jobs, queue_depth=own_stack.queue_depth())
    session.close()


def _tune_positive(case: Any, data: st.DataObject, target: Target) -> None:
    """Steer some cases to requests the API accepts, or to jobs that exist."""
    if "job_id" in (case.path_parameters or {}) and data.draw(MOSTLY, label="known job"):
        case.path_parameters["job_id"] = data.draw(st.sampled_from(target.known_jobs), label="job_id")
    if case.method == "POST" and isinstance(case.body, dict):
        if data.draw(MOSTLY, label="valid recipients"):
            case.body["to"] = data.draw(st.lists(VALID_NUMBER, min_size=1, max_size=5), label="to")
        if data.draw(MOSTLY, label="plain text"):
            case.body["text"] = data.draw(GSM_TEXT.filter(str.strip), label="text")
            case.body.pop("udh", None)
            if case.body.get("encoding") == "binary":
                case.body["encoding"] = "auto"


def _use_api_key(case: Any) -> None:
    """The key the stack expects, wherever the case sends one: the fuzz is of the handler, not the
    key check (tests/security/test_auth.py covers that). A case that drops the key still goes out
    without one, and must get the 403."""
    headers = dict(case.headers or {})
    if case.meta is not None and case.meta.generation.mode.is_negative and "x-api-key" not in headers:
        case.headers = headers
        return
    headers["x-api-key"] = API_KEY
    case.headers = headers


def _describe(case: Any, response: requests.Response, target: Target) -> str:
    body = case.body if case.body is not NOT_SET else None
    return (
        f"{case.method} {case.formatted_path} query={case.query} headers={case.headers} body={body!r}\n"
        f"-> {response.status_code} {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command(base_url=target.stack.api_url)}"
    )


def _check_answer(case: Any, response: requests.Response, target: Target, mode: GenerationMode) -> None:
    described = _describe(case, response, target)
    status = response.status_code
    assert status < 500, f"server error\n{described}"
    checks = [*COMMON_CHECKS, negative_data_rejection] if mode.is_negative else COMMON_CHECKS
    case.validate_response(response, checks=checks)
    body = response.json()
    if 400 <= status < 500:
        assert isinstance(body, dict) and set(body) == {"error"}, f"not the error shape\n{described}"
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"code", "message", "field"}, described
        assert isinstance(error["code"], str) and error["code"], described
        assert isinstance(error["message"], str) and error["message"], described
        assert error["field"] is None or isinstance(error["field"], str), described
    model = SUCCESS_MODELS.get((case.method, case.path, status))
    if model is not None:
        model.model_validate(body)
    if case.method == "POST" and case.path == "/v1/messages":
        _check_side_effects(case, status, body, target, described)
    simulator = target.stack.simulator
    assert simulator is not None
    assert simulator.stats()["requests"] == 0, f"the API called Clickatell\n{described}"


def _check_side_effects(case: Any, status: int, body: Any, target: Target, described: str) -> None:
    depth = target.stack.queue_depth()
    queued = depth - target.queue_depth
    target.queue_depth = depth
    if status != 202:
        assert queued == 0, f"rejected ({status}) but queued {queued} messages\n{described}"
        return
    assert body["status"] == "queued" and body["accepted"] >= 1, described
    key = next((v for k, v in (case.headers or {}).items() if k.lower() == "idempotency-key"), "")
    first_job = target.idempotent_jobs.get(key) if key else None
    if first_job is None:
        assert queued > 0, f"accepted but nothing queued\n{described}"
        if key:
            target.idempotent_jobs[key] = body["job_id"]
    else:  # same key, same body: the first answer again, and nothing new
        assert body["job_id"] == first_job, f"a repeated Idempotency-Key made a new job\n{described}"
        assert queued == 0, f"a repeated Idempotency-Key queued again\n{described}"


def _fuzz(case: Any, data: st.DataObject, target: Target, mode: GenerationMode) -> None:
    if mode.is_positive:
        _tune_positive(case, data, target)
    _use_api_key(case)
    # A new connection per request: on a kept-alive one the local API server stalls each answer
    # ~40 ms (Nagle's algorithm against delayed ACKs), which would triple the run time.
    response = case.call(base_url=target.stack.api_url, session=target.session, headers=CLOSE)
    target.statuses[(mode.value, case.method, case.path, response.status_code)] += 1
    _check_answer(case, response, target, mode)


def _settings(mode: GenerationMode) -> settings:
    return settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@_settings(GenerationMode.POSITIVE)
@given(case=SCHEMA.as_strategy(GenerationMode.POSITIVE), data=st.data())
def _positive(target: Target, case: Any, data: st.DataObject) -> None:
    _fuzz(case, data, target, GenerationMode.POSITIVE)


@_settings(GenerationMode.NEGATIVE)
@given(case=SCHEMA.as_strategy(GenerationMode.NEGATIVE), data=st.data())
def _negative(target: Target, case: Any, data: st.DataObject) -> None:
    _fuzz(case, data, target, GenerationMode.NEGATIVE)


def _summary(target: Target, mode: GenerationMode) -> str:
    seen = {
        f"{method} {path} {status}": n
        for (m, method, path, status), n in target.statuses.items()
        if m == mode.value
    }
    return json.dumps(dict(sorted(seen.items())), indent=1)


def test_valid_requests_never_fail_and_are_answered_as_documented(target: Target) -> None:
    _positive(target)

    summary = _summary(target, GenerationMode.POSITIVE)
    assert target.requests_sent(GenerationMode.POSITIVE) >= MIN_REQUESTS, summary
    reached = {(method, path, status) for (_, method, path, status) in target.statuses}
    # The fuzz is only worth something if it gets past validation to every route's real work.
    for expected in SUCCESS_MODELS:
        assert expected in reached, f"the fuzz never reached {expected}:\n{summary}"


def test_invalid_requests_are_rejected_in_the_error_shape_and_change_nothing(target: Target) -> None:
    _negative(target)

    summary = _summary(target, GenerationMode.NEGATIVE)
    assert target.requests_sent(GenerationMode.NEGATIVE) >= MIN_REQUESTS, summary
    rejected = {status for (m, _, _, status) in target.statuses if m == GenerationMode.NEGATIVE.value}
    assert {400, 403} <= rejected, summary


NESTED = b'{"to": ' + b"[" * 5_000 + b"]" * 5_000 + b', "text": "x"}'
LONG_INT = b'{"to": "27821234567", "text": "x", "callback": ' + b"9" * 5_000 + b"}"


# Found by hand while fuzzing: the schema-driven generator never builds these bodies.
@pytest.mark.parametrize("raw", [NESTED, LONG_INT], ids=["nested 5000 deep", "5000-digit int"])
def test_hostile_json_bodies_are_400_not_a_crash(target: Target, raw: bytes) -> None:
    headers = {"x-api-key": API_KEY, "Content-Type": "application/json", **CLOSE}
    response = target.session.post(f"{target.stack.api_url}/v1/messages", data=raw, headers=headers)

    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "invalid_json"
    assert target.stack.queue_depth() == target.queue_depth
