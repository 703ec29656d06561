"""Issue 5: job status, the recipients listing and the signed status callback.

- `GET /v1/messages/{id}`: counts are the tally of the recipient items;
- `GET /v1/messages/{id}/recipients`: `limit`/`next_token` pagination gives every recipient exactly once,
  `status` filters, a bad token is 400;
- `status_callback_url`: one POST when the job finishes (completed or cancelled), from the webhook
  queue, signed with HMAC-SHA256(key = the webhook signing secret, msg = timestamp + "." + body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections import Counter
from typing import Any

from local.stack import LocalStack
from tests.integration.jobs import every_page, get_job, numbers, simulator, submit, wait_for
from tests.integration.webhooks import Receiver, deliver

STARTED_AT = int(time.time())  # before any test here: a timestamp a test sees is between it and now

STATUSES = ("queued", "submitted", "delivered", "failed", "expired", "unknown", "cancelled")


def page(
    api: Any, job_id: str, limit: int, token: str | None = None, status: str | None = None
) -> dict[str, Any]:
    query = [("limit", str(limit))]
    if status:
        query.append(("status", status))
    if token:
        query.append(("next_token", token))
    code, answer = api.call("GET", f"/v1/messages/{job_id}/recipients", query=query)
    assert code == 200, answer
    assert len(answer["items"]) <= limit
    return dict(answer)


def walk(api: Any, job_id: str, limit: int, status: str | None = None) -> list[dict[str, Any]]:
    return every_page(
        api, f"/v1/messages/{job_id}/recipients", limit, **({"status": status} if status else {})
    )


# ---- status callbacks ---------------------------------------------------------------------------------


def verify(post: dict[str, Any], key: str) -> dict[str, Any]:
    """Check a status callback as a client would, and return its JSON body."""
    headers = {name.lower(): value for name, value in post["headers"].items()}
    assert headers["content-type"] == "application/json"
    timestamp = headers["x-bulksms-timestamp"]
    assert timestamp.isdigit() and STARTED_AT <= int(timestamp) <= time.time(), timestamp  # Unix seconds
    expected = hmac.new(key.encode(), timestamp.encode() + b"." + post["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-bulksms-signature"], f"sha256={expected}"), headers
    body: dict[str, Any] = json.loads(post["body"])
    return body


def settle_quietly(stack: LocalStack, receiver: Receiver, expected: int) -> None:
    """Deliver every queued status callback, then check that exactly `expected` POSTs arrived."""
    deliver(stack)
    assert receiver.count() == expected, receiver.received


# ---- 4. pagination and counts ---------------------------------------------------------------------------


def test_counts_pages_and_filters_on_a_2500_recipient_job(api: Any, drain: Any, fresh: LocalStack) -> None:
    """One job for every listing check: creating and clearing 2,500 items costs seconds in-process."""
    simulator(fresh).set_faults(err_per_number=0.2, seed=5)  # a fifth refused one by one: `failed`
    to = numbers(2500)
    job_id = submit(api, to)
    drain()
    job = get_job(api, job_id)
    counts = job["counts"]
    assert job["status"] == "completed"
    assert counts["submitted"] > 0 and counts["failed"] > 0

    # Every page size walks every recipient exactly once, with the same view of each.
    walks: dict[int, dict[str, dict[str, Any]]] = {}
    for limit in (1000, 100, 97):  # 97: pages that end mid-partition (each page is a Query moto scans)
        items = walk(api, job_id, limit)
        listed = [item["to"] for item in items]
        assert len(listed) == len(set(listed)) == len(to), (limit, len(listed), len(set(listed)))
        assert set(listed) == set(to), limit
        walks[limit] = {item["to"]: item for item in items}
    assert walks[97] == walks[100] == walks[1000]

    # The counts are the tally of the recipient items.
    tally = Counter(item["status"] for item in walks[1000].values())
    assert counts["total"] == len(to) == sum(counts[s] for s in STATUSES)
    assert {s: counts[s] for s in STATUSES if counts[s]} == dict(tally)

    # A status filter returns only that status, and all of it.
    for status, limits in (("submitted", (1000,)), ("failed", (1000, 100))):
        expected = {n for n, item in walks[1000].items() if item["status"] == status}
        for limit in limits:
            listed = walk(api, job_id, limit, status=status)
            assert {item["status"] for item in listed} == {status}, (status, limit)
            assert len(listed) == len(expected) == counts[status], (status, limit)
            assert {item["to"] for item in listed} == expected
            if status == "failed":
                assert all(item["error_code"] and item["error"] for item in listed)
    for status in ("delivered", "cancelled", "queued"):
        assert walk(api, job_id, 1000, status=status) == []
    code, answer = api.call("GET", f"/v1/messages/{job_id}/recipients", query=[("status", "lost")])
    assert code == 400 and answer["error"]["field"] == "status", answer


def test_limit_one_walks_every_recipient_exactly_once(api: Any, drain: Any, fresh: LocalStack) -> None:
    """Limit 1 (and a filter with small pages) on a job of its own: moto re-reads and re-sorts the whole
    partition for every page, so 2,500 one-item pages would take minutes in-process."""
    simulator(fresh).set_faults(err_per_number=0.2, seed=5)
    to = numbers(80, start=5_000_000)
    job_id = submit(api, to)
    drain()

    listed = [item["to"] for item in walk(api, job_id, 1)]
    assert len(listed) == len(set(listed)) == 80 and set(listed) == set(to)
    counts = get_job(api, job_id)["counts"]
    for status, limit in (("failed", 1), ("failed", 7), ("submitted", 7)):
        found = walk(api, job_id, limit, status=status)
        assert {item["status"] for item in found} == {status}
        assert len(found) == len({item["to"] for item in found}) == counts[status] > 0, (status, limit)


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_an_invalid_next_token_is_400(api: Any, drain: Any, fresh: LocalStack) -> None:
    job_id = submit(api, numbers(3))
    drain()
    tokens = {
        "text": "not a token",
        "punctuation": "!!!!",
        "not_json": base64.urlsafe_b64encode(b"not json").decode(),
        "json_list": _token(["R#27821000001"]),
        "no_sk": _token({"pk": "JOB#x"}),
        "sk_not_text": _token({"sk": 5}),
        "chunk_key": _token({"sk": "CHUNK#000000"}),  # another kind of item under the job's key
        "job_key": _token({"sk": "JOB"}),
        "too_long": "A" * 1025,
    }
    for name, token in tokens.items():
        code, answer = api.call("GET", f"/v1/messages/{job_id}/recipients", query=[("next_token", token)])
        assert code == 400, (name, answer)
        assert answer["error"]["field"] == "next_token", (name, answer)


def test_a_next_token_from_another_job_is_400(api: Any, drain: Any, fresh: LocalStack) -> None:
    """A token continues one listing. Given to another job's listing it must not silently start that
    listing in the middle (the recipients before the token's number would be skipped): 400."""
    first = submit(api, numbers(20))
    second = submit(api, numbers(20))  # the same numbers: the token's position exists in both
    drain()
    token = page(api, first, 5)["next_token"]
    assert token

    code, answer = api.call(
        "GET", f"/v1/messages/{second}/recipients", query=[("limit", "100"), ("next_token", token)]
    )

    assert code == 400, f"{code}: {len(answer.get('items', []))} of 20 recipients listed, the first 5 skipped"
    assert answer["error"]["code"] == "invalid_page_token"


def test_unknown_job_is_404_for_status_and_recipients(api: Any) -> None:
    for path in (f"/v1/messages/{'a' * 32}", f"/v1/messages/{'a' * 32}/recipients"):
        code, answer = api.call("GET", path)
        assert code == 404 and answer["error"]["code"] == "not_found", (path, answer)


# ---- 5. the status callback -----------------------------------------------------------------------------


def test_a_completed_job_posts_one_signed_status_callback(
    api: Any, drain: Any, fresh: LocalStack, receiver: Receiver
) -> None:
    to = numbers(1300)  # three chunks
    job_id = submit(
        api, to, status_callback_url=f"{receiver.url}/hooks/bulksms?tenant=7", client_reference="order-42"
    )

    drain()
    fresh.invoke_scheduled("SweeperFunction")  # a sweep after the end finishes nothing twice
    settle_quietly(fresh, receiver, 1)

    post = receiver.received[0]
    assert post["path"] == "/hooks/bulksms?tenant=7" and post["answered"] == 200
    body = verify(post, fresh.config.webhook_signing_key)
    # Signed with its own secret, not the callback token that sits in a URL at Clickatell.
    timestamp = post["headers"]["X-Bulksms-Timestamp"].encode()
    token = fresh.config.callback_token.encode()
    forged = hmac.new(token, timestamp + b"." + post["body"], hashlib.sha256).hexdigest()
    assert post["headers"]["X-Bulksms-Signature"] != f"sha256={forged}"
    job = get_job(api, job_id)
    assert body["job_id"] == job_id and body["client_reference"] == "order-42"
    assert body["status"] == job["status"] == "completed"
    assert body["counts"] == job["counts"]
    assert body["counts"]["total"] == body["counts"]["submitted"] == 1300 and body["counts"]["queued"] == 0
    assert body["finished_at"] == job["finished_at"] and body["finished_at"]
    assert body["encoding"] == "gsm7" and body["parts_per_message"] == 1


def test_a_cancelled_job_posts_one_signed_status_callback(
    api: Any, drain: Any, fresh: LocalStack, receiver: Receiver
) -> None:
    job_id = submit(api, numbers(1500), status_callback_url=f"{receiver.url}/done")

    code, answer = api.call("DELETE", f"/v1/messages/{job_id}")
    assert code == 202 and answer["stop"]["outcome"] == "cancelled", answer
    drain()  # the job's queue messages settle its chunks as cancelled; their results finish it
    settle_quietly(fresh, receiver, 1)
    code, cancelled = api.call("DELETE", f"/v1/messages/{job_id}")
    assert code == 200 and cancelled["status"] == "cancelled", cancelled  # idempotent: no second callback
    fresh.invoke_scheduled("SweeperFunction")
    settle_quietly(fresh, receiver, 1)

    body = verify(receiver.received[0], fresh.config.webhook_signing_key)
    assert body["job_id"] == job_id and body["status"] == "cancelled"
    assert body["counts"] == cancelled["counts"] == get_job(api, job_id)["counts"]
    assert body["counts"]["cancelled"] == 1500
    assert body["stop"]["outcome"] == "cancelled" and body["stop"]["code"] == "CANCELLED"


def test_a_job_cancelled_mid_send_posts_exactly_one_status_callback(
    api: Any, fresh: LocalStack, receiver: Receiver
) -> None:
    """The cancel and the sender's chunks in flight race to finish the job: one of them wins, once."""
    sim = simulator(fresh)
    sim.set_faults(latency_ms=300)
    job_id = submit(api, numbers(6000), status_callback_url=receiver.url)  # ten chunks, eight threads
    poller = fresh.sender_poller().start()
    try:
        wait_for(lambda: sim.stats()["requests"] >= 1, 30, "the first chunk to go out", every_s=0.005)
        code, answer = api.call("DELETE", f"/v1/messages/{job_id}")
        assert code == 202, answer
        job = wait_for(
            lambda: (j := get_job(api, job_id))["status"] != "sending" and j, 60, "the job to finish"
        )
        fresh.wait_for_empty_queue(timeout_s=30)
    finally:
        poller.stop()
    settle_quietly(fresh, receiver, 1)

    assert job["status"] == "cancelled", job
    body = verify(receiver.received[0], fresh.config.webhook_signing_key)
    assert body["status"] == "cancelled" and body["counts"] == job["counts"]
    assert body["counts"]["queued"] == 0
    assert body["counts"]["submitted"] == sim.stats()["recipients_accepted"] > 0
    print(f"\ncancel mid-send, 6000 numbers: {json.dumps(body['counts'])}")


def test_a_failing_receiver_gets_the_same_signed_post_again(
    api: Any, drain: Any, fresh: LocalStack, webhook_env: None, certificate: Any
) -> None:
    receiver = Receiver(certificate, answers=(503,))
    try:
        submit(api, numbers(10), status_callback_url=receiver.url)
        drain()
        settle_quietly(fresh, receiver, 2)  # the second attempt after the queue's backoff (2 s)
    finally:
        receiver.close()

    first, second = receiver.received
    assert (first["answered"], second["answered"]) == (503, 200)
    assert first["body"] == second["body"]
    for post in (first, second):
        verify(post, fresh.config.webhook_signing_key)


def test_an_unreachable_receiver_does_not_stop_the_job(
    api: Any, drain: Any, fresh: LocalStack, webhook_env: None
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    job_id = submit(api, numbers(10), status_callback_url=f"https://127.0.0.1:{closed}/hook")

    drain()
    assert fresh.poller("StatusCallbackFunction").poll_once() == 1  # refused: back on the queue, later

    job = get_job(api, job_id)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 10
    assert fresh.queue_depth("WebhookQueue") == 1
