"""Issue 12 through the running local stack, over HTTP only: an API suppression, a STOP reply sent by
the simulator like Clickatell, and a handset Clickatell reports as opted out (ERR: 122) all keep their
number out of later jobs; START brings a keyword opt-out back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import E2EStack, numbers
from tests.e2e.test_readme import README, bash_blocks, json_documents, run_as_written, section

pytestmark = pytest.mark.e2e


def test_three_ways_onto_the_list_and_start_off_it(sim_reset: E2EStack) -> None:
    stack = sim_reset
    to = numbers(6, start=6_000_000)
    by_api, by_reply, by_provider = to[:3]

    assert stack.api("PUT", f"/v1/suppressions/{by_api}", {"reason": "complaint"})[0] == 200
    mo = stack.sim("POST", "mo", {"from": by_reply, "to": "27999000000", "text": "Stop!"})
    assert (mo["delivered"], mo["answer"]) == (True, "stored"), mo
    stack.sim("POST", "opt_outs", {"add": [by_provider]})

    first = stack.send({"to": to, "text": "e2e: opt-outs"})
    assert (first["accepted"], first["suppressed"]) == (4, 2)
    job = stack.wait_finished(first["job_id"])
    assert job["suppressed"] == 2 and job["counts"]["failed"] == 1
    (failed,) = stack.recipients(first["job_id"], status="failed")
    assert (failed["to"], failed["error_code"]) == (by_provider, "122")
    assert stack.sim_messages(by_api) == [] and stack.sim_messages(by_reply) == []

    sources = {
        n: stack.api("GET", f"/v1/suppressions/{n}")[1]["source"] for n in (by_api, by_reply, by_provider)
    }
    assert sources == {by_api: "api", by_reply: "keyword", by_provider: "provider"}
    status, replies = stack.api("GET", "/v1/inbound?limit=5")
    assert status == 200 and replies["items"][0]["from"] == by_reply
    assert (replies["items"][0]["keyword"], replies["items"][0]["action"]) == ("stop", "suppressed")

    stack.sim("POST", "mo", {"from": by_reply, "to": "27999000000", "text": "START"})
    second = stack.send({"to": to, "text": "e2e: opt-outs, again"})
    assert (second["accepted"], second["suppressed"]) == (4, 2)  # by_reply is back, the others stay
    stack.wait_finished(second["job_id"])
    assert len(stack.sim_messages(by_reply)) == 1


def test_the_readme_opt_out_examples_work_as_written(sim_reset: E2EStack, tmp_path: Path) -> None:
    stack = sim_reset
    blocks = bash_blocks(section(README.read_text(), "## Opt-outs and replies"))
    output, calls = run_as_written(blocks, stack, tmp_path)
    answered = [
        (method, url.removeprefix(stack.api_url).removeprefix(stack.sim_url), int(code))
        for code, method, url in calls
    ]
    assert answered == [
        ("PUT", "/v1/suppressions/27841000001", 200),
        ("GET", "/v1/suppressions/27841000001", 200),
        ("GET", "/v1/suppressions?limit=100", 200),
        ("DELETE", "/v1/suppressions/27841000001", 200),
        ("POST", "/v1/suppressions", 200),
        ("GET", "/v1/inbound?limit=20", 200),
        ("POST", "/_sim/mo", 200),
        ("POST", "/_sim/opt_outs", 200),
    ]
    docs = json_documents(output)
    assert docs[0]["reason"] == "asked by phone" and docs[3] == docs[0] | {
        "updated_at": docs[3]["updated_at"]
    }
    assert docs[4] == {"added": 2, "duplicates_removed": 0, "rejected": [], "rejected_count": 0}
    assert docs[6]["answer"] == "stored"
