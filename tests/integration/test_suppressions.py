"""Issue 12: the suppression list and what feeds it, through the real handlers.

- `PUT|GET|DELETE /v1/suppressions/{number}`, `GET /v1/suppressions` (paginated), `POST` to add many;
  numbers normalised like recipients;
- a submission leaves suppressed numbers out (`suppressed` in the 202 answer and the job view) and they
  never reach the simulator; a dry run counts them the same way;
- a per-number `ERR: 122` puts the number on the list (source `provider`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from bulksms.adapters import suppressions as store_module
from bulksms.service import suppressions as service_module

from local.stack import LocalStack
from tests.integration.jobs import TEXT, every_page, get_job, numbers, recipients, simulator, submit


def suppressions(api: Any, limit: int) -> list[dict[str, Any]]:
    return every_page(api, "/v1/suppressions", limit)


def test_put_get_delete_one_number_normalised_like_a_recipient(api: Any) -> None:
    status, entry = api.call("PUT", "/v1/suppressions/+27 82 100 0001", {"reason": "asked by phone"})
    assert status == 200, entry
    assert entry["number"] == "27821000001"
    assert (entry["reason"], entry["source"]) == ("asked by phone", "api")

    status, found = api.call("GET", "/v1/suppressions/0027821000001")
    assert status == 200 and found == entry

    status, again = api.call("PUT", "/v1/suppressions/27821000001")  # no body: a default reason
    assert status == 200 and again["created_at"] == entry["created_at"]
    assert again["reason"] == "added through the API"

    assert api.call("DELETE", "/v1/suppressions/27821000001") == (200, again)
    status, missing = api.call("GET", "/v1/suppressions/27821000001")
    assert status == 404 and missing["error"]["code"] == "not_found"
    assert api.call("DELETE", "/v1/suppressions/27821000001")[0] == 404


def test_bad_numbers_and_bodies_are_400_and_write_nothing(api: Any) -> None:
    status, answer = api.call("PUT", "/v1/suppressions/0821000001")
    assert status == 400 and answer["error"]["field"] == "number", answer
    assert "leading 0" in answer["error"]["message"]
    status, answer = api.call("PUT", "/v1/suppressions/27821000001", {"reason": "x", "extra": 1})
    assert status == 400 and answer["error"]["field"] == "extra", answer
    status, answer = api.call("POST", "/v1/suppressions", {"numbers": numbers(10_001)})
    assert status == 400 and answer["error"]["field"] == "numbers", answer
    status, answer = api.call("POST", "/v1/suppressions", {"numbers": []})
    assert status == 400 and answer["error"]["field"] == "numbers", answer
    assert suppressions(api, 100) == []


def test_bulk_add_then_list_every_entry_once_across_pages(api: Any) -> None:
    to = numbers(1200)
    status, answer = api.call("POST", "/v1/suppressions", {"numbers": [*to, to[0], "12"], "reason": "import"})
    assert status == 200, answer
    assert (answer["added"], answer["duplicates_removed"], answer["rejected_count"]) == (1200, 1, 1)
    assert answer["rejected"][0]["to"] == "12"

    listed = suppressions(api, 333)
    assert sorted(item["number"] for item in listed) == sorted(to)
    assert {(item["reason"], item["source"]) for item in listed} == {("import", "api")}

    status, answer = api.call("GET", "/v1/suppressions", query=[("next_token", "bm90LWEtdG9rZW4")])
    assert status == 400 and answer["error"]["code"] == "invalid_page_token"


def test_a_submission_leaves_suppressed_numbers_out(api: Any, drain: Any, fresh: LocalStack) -> None:
    to = numbers(1500)
    blocked = [to[3], to[700], to[1499]]
    assert api.call("POST", "/v1/suppressions", {"numbers": blocked})[0] == 200

    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": TEXT})
    assert status == 202, accepted
    assert (accepted["accepted"], accepted["suppressed"]) == (1497, 3)
    job_id = accepted["job_id"]
    drain()

    job = get_job(api, job_id)
    assert job["suppressed"] == 3
    assert job["counts"]["total"] == job["counts"]["submitted"] == 1497
    assert {item["to"] for item in recipients(api, job_id)} == set(to) - set(blocked)
    sim = simulator(fresh)
    assert all(sim.messages_for(number) == [] for number in blocked)
    assert len(sim.messages_for(to[4])) == 1


@pytest.mark.parametrize(("factor", "way"), [(4, "read_shard"), (0, "_read_batch")])
def test_a_large_job_reads_the_list_unless_the_list_is_larger(
    api: Any, monkeypatch: pytest.MonkeyPatch, factor: int, way: str
) -> None:
    """Over 1,600 numbers the whole list is read while it is at most LIST_READ_FACTOR times the job;
    with a factor of 0 any entry makes it too large and the numbers are read by BatchGetItem."""
    to = numbers(2000)
    blocked = to[::400]
    assert (
        api.call("POST", "/v1/suppressions", {"numbers": [*blocked, *numbers(20, start=5_000_000)]})[0] == 200
    )
    monkeypatch.setattr(service_module, "LIST_READ_FACTOR", factor)
    calls: Counter[str] = Counter()
    for name in ("read_shard", "_read_batch"):
        real = getattr(store_module.SuppressionTable, name)
        monkeypatch.setattr(
            store_module.SuppressionTable,
            name,
            lambda self, *args, _real=real, _name=name: calls.update([_name]) or _real(self, *args),
        )
    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": TEXT})
    assert status == 202, accepted
    assert (accepted["accepted"], accepted["suppressed"]) == (2000 - len(blocked), len(blocked))
    assert calls[way] >= 1
    assert calls["_read_batch"] == (20 if factor == 0 else 0)


def test_a_submission_of_only_suppressed_numbers_is_400_and_queues_nothing(
    api: Any, fresh: LocalStack
) -> None:
    to = numbers(2)
    assert api.call("POST", "/v1/suppressions", {"numbers": to})[0] == 200
    status, answer = api.call("POST", "/v1/messages", {"to": to, "text": TEXT})
    assert status == 400, answer
    assert (
        answer["error"]["code"] == "no_valid_recipient" and "suppression list" in answer["error"]["message"]
    )
    assert fresh.queue_depth() == 0


def test_a_dry_run_counts_suppressed_numbers_like_a_send_and_writes_nothing(
    api: Any, fresh: LocalStack
) -> None:
    to = numbers(4)
    assert api.call("POST", "/v1/suppressions", {"numbers": to[:1]})[0] == 200
    status, answer = api.call("POST", "/v1/messages", {"to": to, "text": TEXT, "dry_run": True})
    assert status == 200, answer
    assert (answer["accepted"], answer["suppressed"], answer["estimated_credits"]) == (3, 1, 3)

    status, refused = api.call("POST", "/v1/messages", {"to": to[:1], "text": TEXT, "dry_run": True})
    assert status == 400 and refused["error"]["code"] == "no_valid_recipient", refused
    assert api.call("GET", "/v1/messages")[1]["items"] == []
    assert fresh.queue_depth() == 0


def test_err_122_from_clickatell_adds_the_number_for_later_jobs(
    api: Any, drain: Any, fresh: LocalStack
) -> None:
    to = numbers(5)
    fresh.simulator.mo.control("POST", "opt_outs", {"add": [to[1]]})  # type: ignore[union-attr]
    job_id = submit(api, to)
    drain()
    failed = {item["to"]: item for item in recipients(api, job_id, status="failed")}
    assert list(failed) == [to[1]] and failed[to[1]]["error_code"] == "122"

    status, entry = api.call("GET", f"/v1/suppressions/{to[1]}")
    assert status == 200, entry
    assert entry["source"] == "provider" and "122" in entry["reason"]

    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": TEXT})
    assert (status, accepted["accepted"], accepted["suppressed"]) == (202, 4, 1)
