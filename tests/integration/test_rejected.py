"""Issue 16, point 2: the 202 answer stays small for any body the limit allows; every rejected input is
listed by `GET /v1/messages/{id}/rejected`, truncated the same way, in input order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.jobs import TEXT, every_page, numbers

MARKER = "…[truncated]"
ANSWER_BOUND = 32_000  # bytes: "far below" Lambda's 6 MB response limit


def post_raw(stack: LocalStack, body: dict[str, Any]) -> tuple[int, bytes]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) <= 6_000_000
    answer = stack.gateway.handle(
        "POST", "/v1/messages", (), {"Content-Type": "application/json", "x-api-key": "test-key"}, raw
    )
    return answer.status, answer.body


def listing(api: Any, job_id: str, limit: int) -> list[dict[str, Any]]:
    return every_page(api, f"/v1/messages/{job_id}/rejected", limit)


@pytest.mark.timeout(120)
def test_the_most_rejections_the_limit_allows_give_a_small_answer_and_a_full_listing(
    api: Any, fresh: LocalStack
) -> None:
    """99,999 rejected inputs of emoji (12 bytes of JSON per character in the answer): the answer
    holds a sample, the listing has them all."""
    rejected = [f"{'😀' * 12}{i}" for i in range(99_999)]
    status, raw = post_raw(fresh, {"to": [*numbers(1), *rejected], "text": TEXT})

    assert status == 202, raw[:500]
    assert len(raw) < ANSWER_BOUND, len(raw)
    answer = json.loads(raw)
    print(f"\nworst-case answer: {len(raw)} bytes, {len(answer['rejected'])} rejections listed")
    assert answer["rejected_count"] == 99_999
    assert 0 < len(answer["rejected"]) <= 100
    assert [r["to"] for r in answer["rejected"]] == rejected[: len(answer["rejected"])]
    assert answer["links"]["rejected"] == f"/v1/messages/{answer['job_id']}/rejected"

    listed = listing(api, answer["job_id"], 1000)
    assert [r["to"] for r in listed] == rejected
    assert listed[:3] == answer["rejected"][:3]
    assert {r["reason"] for r in listed} == {answer["rejected"][0]["reason"]}


def test_huge_values_are_echoed_truncated_with_a_marker(api: Any, fresh: LocalStack) -> None:
    huge = ["9" * 2_000_000, "€" * 1_000_000, "x"]
    status, raw = post_raw(fresh, {"to": [*numbers(2), *huge], "text": TEXT})

    assert status == 202, raw[:500]
    assert len(raw) < ANSWER_BOUND, len(raw)
    answer = json.loads(raw)
    expected = ["9" * 32 + MARKER, "€" * 32 + MARKER, "x"]
    assert [r["to"] for r in answer["rejected"]] == expected
    assert [r["to"] for r in listing(api, answer["job_id"], 2)] == expected

    # With no valid number the 400 names a few of them, truncated the same way.
    status, raw = post_raw(fresh, {"to": huge, "text": TEXT})
    assert status == 400 and len(raw) < 1_000, raw[:500]
    assert json.loads(raw)["error"]["code"] == "no_valid_recipient"


def test_the_listing_pages_in_order_and_its_token_belongs_to_its_job(api: Any, fresh: LocalStack) -> None:
    rejected = [f"0{i:09d}" for i in range(1_234)]  # leading zero: no country
    first = api.call("POST", "/v1/messages", {"to": [*numbers(1), *rejected], "text": TEXT})[1]
    second = api.call("POST", "/v1/messages", {"to": [*numbers(1), *rejected[:10]], "text": TEXT})[1]

    for limit in (1000, 499, 7):
        assert [r["to"] for r in listing(api, first["job_id"], limit)] == rejected, limit
    token = api.call("GET", f"/v1/messages/{first['job_id']}/rejected", query=[("limit", "3")])[1][
        "next_token"
    ]
    status, answer = api.call(
        "GET", f"/v1/messages/{second['job_id']}/rejected", query=[("next_token", token)]
    )
    assert status == 400 and answer["error"]["field"] == "next_token", answer
    for bad in ("junk", "eyJyZWplY3RlZCI6IC0xfQ"):
        status, answer = api.call(
            "GET", f"/v1/messages/{first['job_id']}/rejected", query=[("next_token", bad)]
        )
        assert status == 400 and answer["error"]["code"] == "invalid_page_token", answer
    assert api.call("GET", f"/v1/messages/{'a' * 32}/rejected")[0] == 404
    nothing = api.call("POST", "/v1/messages", {"to": numbers(1), "text": TEXT})[1]
    assert api.call("GET", f"/v1/messages/{nothing['job_id']}/rejected") == (
        200,
        {"items": [], "next_token": None},
    )
