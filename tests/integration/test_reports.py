"""Issue 15: delivery reports at scale, through the real callback handler and the counts function.

A report is one conditional write on its recipient; the counts function sums the table's stream of
recipient changes into one update per job per batch. These tests drive the callback route over HTTP
and through the local gateway, the counts function through the local stream event source, and check
the counts against a recount of the recipients.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3
from bulksms import runtime
from bulksms.adapters.store import Store

from local.stack import LocalStack
from tests.integration.faults import check_every_number_once, recipient_items
from tests.integration.jobs import get_job, numbers, submit
from tests.security.conftest import tap_logs

ROUTE = "/v1/callbacks/clickatell"
COUNTED = ("queued", "submitted", "delivered", "failed", "expired", "unknown", "cancelled")


def recount(stack: LocalStack, job_id: str, total: int) -> dict[str, int]:
    """The job's counts from its recipient items: what the aggregated counts must equal."""
    statuses = Counter(item["status"] for item in recipient_items(stack, job_id))
    return {"total": total, **{s: statuses.get(s, 0) for s in COUNTED}, "queued": total - statuses.total()}


def reports_for(job_id: str, items: list[dict[str, Any]], status: str) -> list[dict[str, str]]:
    return [
        {
            "api_id": "3456789",
            "apiMsgId": item["api_message_id"],
            "cliMsgId": job_id,
            "timestamp": "1764096005",
            "to": item["to"],
            "status": status,
            "charge": "0.300000",
        }
        for item in items
    ]


def via_gateway(
    stack: LocalStack, method: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    answer = stack.gateway.handle(
        method, ROUTE, [("token", stack.config.callback_token), *query], headers, body
    )
    return answer.status, answer.body.decode()


@pytest.fixture
def sent(api: Any, drain: Any, fresh: LocalStack) -> tuple[str, list[dict[str, Any]]]:
    """A job of 8 numbers sent without callbacks: each recipient `submitted` with its message id."""
    fresh.simulator.configure(callback_url=None)
    job_id = submit(api, numbers(8, start=5_000_000))
    drain()
    return job_id, sorted(recipient_items(fresh, job_id), key=lambda item: item["to"])


def _xml(fields: dict[str, str]) -> str:
    return "<callback>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</callback>"


def test_every_transport_applies_its_report(
    api: Any, fresh: LocalStack, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    job_id, items = sent
    reports = reports_for(job_id, items, "004")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    plus = {**reports[6], "to": "+" + reports[6]["to"]}
    calls = [
        ("GET", list(reports[0].items()), {}, b""),
        ("POST", [], form, urlencode(reports[1]).encode()),
        ("GET", [("data", _xml(reports[2]))], {}, b""),
        ("POST", [], form, urlencode({"data": _xml(reports[3])}).encode()),
        ("POST", [], {"Content-Type": "application/json"}, json.dumps(reports[4]).encode()),
        ("GET", [(k.upper(), v) for k, v in reports[5].items()], {}, b""),
        ("POST", [], form, urlencode(plus).encode()),
    ]
    for method, query, headers, body in calls:
        assert via_gateway(fresh, method, query, headers, body) == (200, "applied"), (method, query, body)

    after = {item["to"]: item for item in recipient_items(fresh, job_id)}
    for report in reports[:7]:
        assert after[report["to"]]["status"] == "delivered"
        assert after[report["to"]]["charge"] == "0.300000"
    assert after[items[7]["to"]]["status"] == "submitted"
    job = get_job(api, job_id)
    assert job["counts"] == recount(fresh, job_id, 8)
    assert (job["counts"]["delivered"], job["counts"]["submitted"]) == (7, 1)
    assert job["charge_total"] == "2.1"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"to=\xff", "not UTF-8"),
        ({"Content-Type": "application/json"}, b"[]", "JSON body must be an object"),
        ({"Content-Type": "text/xml"}, b"<callback><to>", "well-formed XML"),
    ],
)
def test_a_body_that_is_no_report_is_400_and_writes_nothing(
    api: Any,
    fresh: LocalStack,
    sent: tuple[str, list[dict[str, Any]]],
    headers: dict[str, str],
    body: bytes,
    reason: str,
) -> None:
    job_id, items = sent
    status, text = via_gateway(fresh, "POST", [], headers, body)
    assert status == 400 and reason in text, text
    assert sorted(recipient_items(fresh, job_id), key=lambda item: item["to"]) == items


def test_oversized_fields_are_400_not_a_store_error(
    fresh: LocalStack, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    job_id, items = sent
    (report,) = reports_for(job_id, items[:1], "004")
    for field, value in (("charge", "1" * 500_000), ("timestamp", "9" * 500_000), ("to", "2" * 2000)):
        status, text = via_gateway(fresh, "GET", list({**report, field: value}.items()), {}, b"")
        assert status == 400 and field in text, (field, text[:200])
    body = urlencode({**report, "charge": "1" * 500_000}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert via_gateway(fresh, "POST", [], form, body) == (400, "invalid: body larger than 16384 bytes")
    status, text = via_gateway(fresh, "GET", [(k, v) for k, v in report.items() if k != "apiMsgId"], {}, b"")
    assert (status, text) == (400, "invalid: apiMsgId is missing")
    assert {item["status"] for item in recipient_items(fresh, job_id)} == {"submitted"}


def test_a_report_for_another_message_id_writes_nothing(
    fresh: LocalStack, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    job_id, items = sent
    (report,) = reports_for(job_id, items[:1], "004")
    forged = {**report, "apiMsgId": "f" * 32}
    assert via_gateway(fresh, "GET", list(forged.items()), {}, b"") == (200, "unknown_message")
    assert runtime.store().get_recipient(job_id, report["to"]) == items[0]


def test_an_unknown_recipient_becomes_final_when_a_report_proves_it_went_out(
    api: Any, fresh: LocalStack, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    job_id, items = sent
    to = items[0]["to"]
    runtime.store().table.update_item(  # as the sweeper leaves a number whose answer was lost
        Key={"pk": items[0]["pk"], "sk": items[0]["sk"]},
        UpdateExpression="SET #s = :unknown REMOVE api_message_id",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":unknown": "unknown"},
    )
    (report,) = reports_for(job_id, items[:1], "004")
    assert via_gateway(fresh, "GET", list(report.items()), {}, b"") == (200, "applied")
    after = runtime.store().get_recipient(job_id, to)
    assert after is not None and after["status"] == "delivered"
    assert after["api_message_id"] == items[0]["api_message_id"]
    # From then on the recipient only takes reports that carry that id.
    assert (
        via_gateway(fresh, "GET", list({**report, "apiMsgId": "e" * 32, "status": "007"}.items()), {}, b"")[1]
        == "unknown_message"
    )
    assert get_job(api, job_id)["counts"] == recount(fresh, job_id, 8)


class CrashOnce:
    """Kills the counts function once, right after its job write and before the event source hears
    back: the batch is delivered again."""

    def __init__(self) -> None:
        self.crashed = 0

    def __call__(self, original: Any) -> Any:
        def finish(store: Store, job: Any, final: Any) -> Any:
            if not self.crashed:
                self.crashed += 1
                raise RuntimeError("the counts function died after writing the job")
            return original(store, job, final)

        return finish


def test_a_batch_redelivered_after_its_write_counts_once(
    api: Any, fresh: LocalStack, drain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh.simulator.configure(callback_url=None)
    crash = CrashOnce()
    monkeypatch.setattr(Store, "finish", crash(Store.finish))
    to = numbers(1300, start=5_100_000)
    job_id = submit(api, to)
    drain()  # the sender stores 1300 results; the counts function dies once and gets them again
    (poller,) = fresh.stream_pollers
    assert crash.crashed == 1 and poller.failed_invocations == 1
    job, _ = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 1300, job


@pytest.mark.timeout(240)
def test_fifty_concurrent_report_senders_on_one_job_all_200_and_counts_exact(
    api: Any, fresh: LocalStack, drain: Any
) -> None:
    fresh.simulator.configure(callback_url=None)
    to = numbers(2000, start=5_200_000)
    job_id = submit(api, to)
    drain()
    items = recipient_items(fresh, job_id)
    finals = ["004"] * 1800 + ["007"] * 150 + ["010"] * 50
    reports = [
        *(r for r, final in zip(reports_for(job_id, items, "004"), finals, strict=True) if final == "004"),
        *(
            {**r, "status": f}
            for r, f in zip(reports_for(job_id, items, "004"), finals, strict=True)
            if f != "004"
        ),
    ]
    http = urllib3.PoolManager(maxsize=50)
    url = f"{fresh.api_url}{ROUTE}?token={fresh.config.callback_token}"

    def post(report: dict[str, str]) -> int:
        return http.request(
            "POST", url, body=urlencode(report), headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status

    with ThreadPoolExecutor(max_workers=50) as senders:
        answers = Counter(senders.map(post, reports))
    assert answers == {200: len(reports)}

    job = get_job(api, job_id)
    assert job["counts"] == recount(fresh, job_id, 2000)
    assert (job["counts"]["delivered"], job["counts"]["failed"], job["counts"]["expired"]) == (1800, 150, 50)
    assert job["counts"]["submitted"] == 0


@pytest.fixture
def counting(fresh: LocalStack) -> Iterator[None]:
    """The counts function following the stream in the background, as on AWS."""
    for poller in fresh.stream_pollers:
        poller.start()
    yield
    for poller in fresh.stream_pollers:
        poller.stop()


@pytest.mark.timeout(240)
def test_counts_read_while_reports_race_the_sender_are_never_negative(
    api: Any, fresh: LocalStack, counting: None
) -> None:
    """Callbacks come right after each send (before the counts of the send are applied): every view
    read meanwhile sums to the total with no negative count, and the end is exact."""
    sim = fresh.simulator
    saved = sim.settings
    sim.configure(callback_delay_ms=0, callback_retry_delays_ms=(100, 200, 400, 800, 1600, 3200))
    to = numbers(900, start=5_300_000)
    job_id = submit(api, to, callback=3)
    poller = fresh.sender_poller().start()
    seen: list[dict[str, int]] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            _, job = api.call("GET", f"/v1/messages/{job_id}")
            seen.append(job["counts"])
            if job["counts"]["delivered"] == len(to) and job["status"] == "completed":
                break
            time.sleep(0.05)
    finally:
        poller.stop()
        sim.configure(**{name: getattr(saved, name) for name in saved.names()})
    assert seen[-1]["delivered"] == len(to), seen[-1]
    for counts in seen:
        assert all(n >= 0 for n in counts.values()), counts
        assert sum(counts[s] for s in COUNTED) == counts["total"] == len(to), counts
    assert len({json.dumps(c, sort_keys=True) for c in seen}) > 2  # the counts were watched moving


def test_the_delivery_report_log_line_names_the_job_and_message_not_the_number(
    fresh: LocalStack, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    job_id, items = sent
    (report,) = reports_for(job_id, items[:1], "004")
    with tap_logs() as tap:
        assert via_gateway(fresh, "GET", list(report.items()), {}, b"")[0] == 200
    lines = [json.loads(line) for line in tap.lines() if line.startswith("{")]
    (line,) = [entry for entry in lines if entry.get("message") == "delivery report"]
    assert line["job_id"] == job_id and line["api_message_id"] == report["apiMsgId"]
    assert line["function_name"] == "CallbackFunction"
    assert report["to"] not in json.dumps(line)
