"""Issue 12: replies (MO messages) through the inbound function, sent by the simulator like Clickatell.

Every reply is stored (newest first in `GET /v1/inbound`); STOP-like first words put the sender on the
suppression list, START/UNSTOP lift only what a keyword put there; a bad token is 403 and writes
nothing; a repeated callback is recognised.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bulksms import runtime
from bulksms.settings import settings

from local.context import LocalContext
from local.functions import load_handler
from local.stack import LocalStack
from tests.integration.jobs import numbers, simulator
from tests.integration.test_status import verify
from tests.integration.webhooks import Receiver, deliver

HANDSET, OURS = "27821000009", "27999000000"
ROOT = Path(__file__).resolve().parents[2]


def reply(stack: LocalStack, text: str, sender: str = HANDSET, **options: Any) -> dict[str, Any]:
    status, answer = simulator(stack).mo.deliver({"from": sender, "to": OURS, "text": text, **options})
    assert status == 200 and answer["delivered"], answer
    return dict(answer)


def inbound(api: Any, **query: str) -> dict[str, Any]:
    status, page = api.call("GET", "/v1/inbound", query=list(query.items()))
    assert status == 200, page
    return dict(page)


def suppression(api: Any, number: str = HANDSET) -> dict[str, Any] | None:
    status, entry = api.call("GET", f"/v1/suppressions/{number}")
    assert status in (200, 404), entry
    return dict(entry) if status == 200 else None


@pytest.mark.parametrize(
    ("text", "wire", "method"),
    [
        ("STOP", "form", "POST"),
        ("stop please", "json", "POST"),
        ("  Unsubscribe!", "xml", "POST"),
        ("«Quit»", "xml", "GET"),
        ("End.", "one", "POST"),
    ],
)
def test_a_stop_word_suppresses_the_sender(
    api: Any, fresh: LocalStack, text: str, wire: str, method: str
) -> None:
    answer = reply(fresh, text, format=wire, method=method)
    assert answer["answer"] == "stored"
    entry = suppression(api)
    assert entry is not None and entry["source"] == "keyword", entry
    (item,) = inbound(api)["items"]
    assert (item["from"], item["to"], item["text"]) == (HANDSET, OURS, text)
    assert (item["keyword"], item["action"], item["mo_message_id"]) == (
        "stop",
        "suppressed",
        answer["moMsgId"],
    )
    assert item["sent_at"].endswith("Z") and item["received_at"]


def test_start_lifts_a_keyword_entry_but_never_one_added_through_the_api(api: Any, fresh: LocalStack) -> None:
    reply(fresh, "STOP", timestamp="2026-12-01 10:00:00")
    reply(fresh, "unstop", method="GET", timestamp="2026-12-01 10:00:01")
    assert suppression(api) is None
    assert [item["action"] for item in inbound(api)["items"]] == ["unsuppressed", "suppressed"]

    other = numbers(1, start=2_000_000)[0]
    assert api.call("PUT", f"/v1/suppressions/{other}", {"reason": "legal hold"})[0] == 200
    reply(fresh, "STOP", sender=other)
    reply(fresh, "START", sender=other)
    entry = suppression(api, other)
    assert entry is not None and (entry["source"], entry["reason"]) == ("api", "legal hold")


def test_other_texts_are_stored_and_change_nothing(api: Any, fresh: LocalStack) -> None:
    reply(fresh, "Don't stop, I love these")
    reply(fresh, "STOPPED already?")
    assert suppression(api) is None
    assert {(item["keyword"], item["action"]) for item in inbound(api)["items"]} == {(None, None)}


@pytest.mark.parametrize(("wire", "charset"), [("form", "UCS-2"), ("xml", "UCS-2"), ("one", "UTF-8")])
def test_unicode_replies_arrive_as_ucs2_and_are_decoded(
    api: Any, fresh: LocalStack, wire: str, charset: str
) -> None:
    text = "Стоп 🙏 STOP"
    reply(fresh, text, format=wire)
    (item,) = inbound(api)["items"]
    assert (item["text"], item["charset"]) == (text, charset)
    assert suppression(api) is None  # the first word is Стоп, not a keyword

    reply(fresh, "Stop \u2013 déjà vu", format=wire)  # Latin-1 but for the en dash: UCS-2 as well
    assert suppression(api) is not None


@pytest.mark.parametrize("wire", ["form", "one"])
def test_a_repeated_callback_is_stored_once(api: Any, fresh: LocalStack, wire: str) -> None:
    first = reply(fresh, "hello", format=wire)
    again = reply(fresh, "hello", mo_msg_id=first["moMsgId"], format=wire)
    assert again["answer"] == "duplicate"
    assert len(inbound(api)["items"]) == 1


def test_a_bad_token_is_403_and_writes_nothing(api: Any, fresh: LocalStack) -> None:
    path = "/v1/inbound/clickatell"
    body = b"api_id=1&moMsgId=abc&from=27821000009&to=27999000000&timestamp=&text=STOP&charset=&udh="
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for query in ([("token", "wrong")], []):
        answer = fresh.gateway.handle("POST", path, query, headers, body)
        assert answer.status == 403, answer
    answer = fresh.gateway.handle("POST", path, [("token", "wrong")], headers, b"{not json")
    assert answer.status == 403
    assert inbound(api)["items"] == [] and suppression(api) is None
    json_headers = {"Content-Type": "application/json"}
    one_api = json.dumps({"event": {"moText": [{"channel": "sms", "from": HANDSET, "content": "STOP"}]}})
    for query in ([("token", "wrong")], []):  # the One API's JSON: the token is the URL's only
        answer = fresh.gateway.handle("POST", path, query, json_headers, one_api.encode())
        assert answer.status == 403, answer
    xml = "<callback><from>27821000009</from><text>STOP</text></callback>"
    answer = fresh.gateway.handle("GET", path, [("token", "wrong"), ("data", xml)], {}, b"")
    assert answer.status == 403
    assert inbound(api)["items"] == [] and suppression(api) is None
    token = [("token", fresh.config.callback_token)]
    for body, reason in (
        (b"text=no+sender", "from is missing"),
        (b"data=%3Ccallback%3E%3Cfrom%3E1", "data is not a well-formed XML document"),
        (b"[1]", "from is missing"),
    ):
        answer = fresh.gateway.handle("POST", path, token, headers, body)
        assert (answer.status, answer.body) == (400, f"invalid: {reason}".encode())
    assert inbound(api)["items"] == []


def test_listing_is_newest_first_by_clickatell_time_and_paginated(api: Any, fresh: LocalStack) -> None:
    # Delivered out of order (a retried callback arrives late): listed by when the handset sent it.
    minutes = [3, 0, 6, 1, 5, 2, 4]
    for minute in minutes:
        reply(fresh, f"minute {minute}", timestamp=f"2026-12-01 10:{minute:02d}:00")
    seen: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(10):
        page = inbound(api, limit="3", **({"next_token": token} if token else {}))
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        token = page["next_token"]
        if not token:
            break
    assert [item["text"] for item in seen] == [f"minute {m}" for m in sorted(minutes, reverse=True)]
    assert seen[0]["sent_at"] == "2026-12-01T08:06:00Z"  # Clickatell writes GMT+2


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Iterator[Receiver]:
    """The deployment's InboundWebhookUrl pointed at a local HTTPS receiver (allowed as a webhook host,
    as a test deployment would; settings are read once per container: the caches are cleared around
    the test, as a new container would start)."""
    server = receiver
    monkeypatch.setenv("INBOUND_WEBHOOK_URL", f"{server.url}/replies")
    settings.cache_clear()
    runtime.inbound.cache_clear()
    yield server
    monkeypatch.undo()
    settings.cache_clear()
    runtime.inbound.cache_clear()


def test_each_new_reply_is_posted_signed_to_the_webhook(
    api: Any, fresh: LocalStack, webhook: Receiver
) -> None:
    first = reply(fresh, "STOP")
    reply(fresh, "STOP", mo_msg_id=first["moMsgId"])  # a repeat: stored once, posted once
    reply(fresh, "Thanks")
    assert webhook.count() == 0  # queued, not posted by the inbound function itself
    deliver(fresh)  # the webhook function, as its queue's event source would run it

    assert webhook.count() == 2
    posted = [verify(post, fresh.config.webhook_signing_key) for post in webhook.received]
    assert [post["path"] for post in webhook.received] == ["/replies", "/replies"]
    listed = inbound(api)["items"]
    assert sorted(posted, key=lambda m: m["text"]) == sorted(listed, key=lambda m: m["text"])
    assert {(m["text"], m["action"]) for m in posted} == {("STOP", "suppressed"), ("Thanks", None)}


def test_an_unreachable_webhook_still_stores_and_applies_the_reply(
    api: Any, fresh: LocalStack, webhook: Receiver
) -> None:
    webhook.close()  # nothing listens: every attempt is refused
    answer = reply(fresh, "STOP")
    assert answer["answer"] == "stored"
    assert suppression(api) is not None and len(inbound(api)["items"]) == 1


def handle(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    function = stack.function("InboundFunction")
    event = {**event, "rawQueryString": f"token={stack.config.callback_token}"}
    answer = load_handler(function)(event, LocalContext(function.logical_id, function.memory_mb, 30))
    return dict(answer)


@pytest.mark.parametrize(
    ("filename", "text"), [("inbound_post.json", "STOP"), ("inbound_one_api_post.json", "Stop please")]
)
def test_the_sample_events_are_handled_by_the_real_handler(
    api: Any, fresh: LocalStack, filename: str, text: str
) -> None:
    event = json.loads((ROOT / "events" / filename).read_text())
    answer = handle(fresh, event)
    assert (answer["statusCode"], answer["body"]) == (200, "stored")
    (item,) = inbound(api)["items"]
    assert (item["from"], item["text"], item["sent_at"]) == ("27821234567", text, "2025-11-25T18:40:05Z")
    assert suppression(api, "27821234567") is not None
    assert (handle(fresh, event)["statusCode"], handle(fresh, event)["body"]) == (200, "duplicate")


def test_a_one_api_callback_of_several_replies_stores_each_and_skips_other_channels(
    api: Any, fresh: LocalStack
) -> None:
    event = json.loads((ROOT / "events" / "inbound_one_api_post.json").read_text())
    (sample,) = json.loads(event["body"])["event"]["moText"]
    replies = [
        {
            **sample,
            "messageId": "a" * 32,
            "from": "27821000001",
            "content": "STOP",
            "timestamp": 1764096005000,
        },
        {**sample, "messageId": "b" * 32, "channel": "whatsapp", "from": "27821000002", "content": "STOP"},
        {**sample, "messageId": "c" * 32, "from": "27821000003", "content": "hi", "timestamp": 1764096006000},
    ]
    body = base64.b64encode(json.dumps({"integrationId": "x", "event": {"moText": replies}}).encode())
    answer = handle(fresh, {**event, "body": body.decode(), "isBase64Encoded": True})
    assert (answer["statusCode"], answer["body"]) == (200, "stored,stored")
    assert [item["from"] for item in inbound(api)["items"]] == ["27821000003", "27821000001"]
    assert suppression(api, "27821000001") is not None and suppression(api, "27821000002") is None

    whatsapp_only = json.dumps({"event": {"moText": [replies[1]]}})
    answer = handle(fresh, {**event, "body": whatsapp_only})
    assert (answer["statusCode"], answer["body"]) == (200, "ignored")


CONFIRMATION = "You will get no more texts from us. Reply START to undo."


@pytest.fixture
def confirming(monkeypatch: pytest.MonkeyPatch, fresh: LocalStack) -> Iterator[LocalStack]:
    """The deployment's OptOutConfirmationText set (settings are read once per container: the caches
    are cleared around the test, as a new container would start)."""
    monkeypatch.setenv("OPT_OUT_CONFIRMATION_TEXT", CONFIRMATION)
    settings.cache_clear()
    runtime.inbound.cache_clear()
    yield fresh
    monkeypatch.undo()
    settings.cache_clear()
    runtime.inbound.cache_clear()


def test_a_stop_gets_one_confirmation_from_our_number_when_configured(
    api: Any, confirming: LocalStack
) -> None:
    sim = simulator(confirming)
    first = reply(confirming, "STOP")
    reply(confirming, "STOP", mo_msg_id=first["moMsgId"])  # a repeat: not confirmed again
    reply(confirming, "thanks")
    reply(confirming, "START", format="one")
    (sent,) = sim.requests
    assert sent["numbers"] == 1 and sent["params"]["to"] == HANDSET
    assert (sent["params"]["text"], sent["params"]["from"], sent["params"]["mo"]) == (CONFIRMATION, OURS, "1")
    (message,) = sim.messages_for(HANDSET)
    assert message["from"] == OURS
    assert suppression(api) is None  # START came after: the confirmation changed nothing on the list
    assert sorted(str(item["action"]) for item in inbound(api)["items"]) == [
        "None",
        "suppressed",
        "unsuppressed",
    ]


def test_no_confirmation_by_default_and_a_refused_one_keeps_the_reply(api: Any, fresh: LocalStack) -> None:
    reply(fresh, "STOP")
    assert simulator(fresh).requests == []
    sender = numbers(1, start=2_100_000)[0]
    simulator(fresh).set_faults(auth_fail=True)  # the confirmation is refused: the reply still counts
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPT_OUT_CONFIRMATION_TEXT", CONFIRMATION)
        settings.cache_clear()
        runtime.inbound.cache_clear()
        try:
            assert reply(fresh, "Stop", sender=sender)["answer"] == "stored"
        finally:
            patch.undo()
            settings.cache_clear()
            runtime.inbound.cache_clear()
    assert suppression(api, sender) is not None
