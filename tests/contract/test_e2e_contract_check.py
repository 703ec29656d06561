"""The checker the end-to-end suite runs on every API answer (tests/e2e/contract.py) refuses what
openapi.json does not say, so a passing e2e run means its answers match the document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.contract import check_answer

JOB = "/v1/messages/" + "a" * 32
COUNTS = {
    "total": 1,
    "queued": 0,
    "submitted": 1,
    "delivered": 0,
    "failed": 0,
    "expired": 0,
    "unknown": 0,
    "cancelled": 0,
}
VIEW = {
    "job_id": "a" * 32, "status": "completed", "created_at": "2026-12-01T00:00:00Z", "encoding": "gsm7",
    "parts_per_message": 1, "counts": COUNTS,
}  # fmt: skip
ERROR = {"error": {"code": "not_found", "message": "no such job", "field": None}}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_documented_answers_pass() -> None:
    check_answer("GET", JOB, 200, "application/json", _json(VIEW))
    check_answer("GET", JOB, 404, "application/json; charset=utf-8", _json(ERROR))
    check_answer("POST", "/v1/messages", 415, "application/json", _json(ERROR))
    check_answer("GET", "/v1/callbacks/clickatell?token=x", 200, "text/plain", b"applied")
    check_answer("GET", "/v1/nothing", 403, "application/json", _json(ERROR))


@pytest.mark.parametrize(
    ("method", "path", "status", "content_type", "body", "words"),
    [
        ("GET", JOB, 418, "application/json", _json(ERROR), "not documented"),
        ("GET", JOB, 200, "text/html", b"<html/>", "content type"),
        ("GET", JOB, 200, "application/json", _json({**VIEW, "status": "lost"}), "does not match"),
        (
            "GET",
            JOB,
            200,
            "application/json",
            _json({**VIEW, "counts": {**COUNTS, "failed": -1}}),
            "does not match",
        ),
        ("GET", JOB, 404, "application/json", _json({"message": "Not Found"}), "does not match"),
        ("GET", "/v1/nothing", 404, "application/json", _json(ERROR), "does not have"),
    ],
)
def test_undocumented_answers_fail(
    method: str, path: str, status: int, content_type: str, body: bytes, words: str
) -> None:
    with pytest.raises(AssertionError, match=words):
        check_answer(method, path, status, content_type, body)
