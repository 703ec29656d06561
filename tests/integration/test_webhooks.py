"""Issue 16, points 3-5: status callbacks are safe to give a URL for and cannot slow anything down.

- a URL that is not https, or whose host resolves to anything but a public address, is a 400 naming
  the field (and is checked again when the callback is delivered);
- one delivery attempt has a total deadline: an endpoint that trickles its answer is cut off;
- callbacks go out from their own queue and function: endpoints that trickle for minutes do not slow
  other jobs down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.faults import reset_caches
from tests.integration.jobs import TEXT, get_job, numbers, simulator, submit
from tests.integration.webhooks import Receiver, deliver

HOSTILE_URLS = [
    pytest.param("http://localhost:9001/2018-06-01/runtime/invocation/next", id="lambda-runtime-api"),
    pytest.param("http://127.0.0.1:8099/_sim/reset", id="plain-http-to-this-machine"),
    pytest.param("http://example.com/hook", id="plain-http"),
    pytest.param("ftp://example.com/hook", id="ftp"),
    pytest.param("https://169.254.169.254/latest/meta-data/", id="instance-metadata"),
    pytest.param("https://[fd00:ec2::254]/latest/meta-data/", id="instance-metadata-v6"),
    pytest.param("https://localhost:5000/", id="localhost"),
    pytest.param("https://127.0.0.1/", id="loopback"),
    pytest.param("https://127.1/", id="loopback-short-form"),
    pytest.param("https://2130706433/", id="loopback-as-a-number"),
    pytest.param("https://0x7f000001/", id="loopback-in-hex"),
    pytest.param("https://[::1]/", id="loopback-v6"),
    pytest.param("https://[::ffff:127.0.0.1]/", id="v4-mapped-loopback"),
    pytest.param("https://[::ffff:169.254.169.254]/", id="v4-mapped-metadata"),
    pytest.param("https://[64:ff9b::a9fe:a9fe]/", id="nat64-metadata"),
    pytest.param("https://[2002:7f00:1::]/", id="6to4-loopback"),
    pytest.param("https://10.0.0.1/", id="private-10"),
    pytest.param("https://172.16.0.1/", id="private-172"),
    pytest.param("https://192.168.1.1/", id="private-192"),
    pytest.param("https://100.64.0.1/", id="carrier-grade-nat"),
    pytest.param("https://[fc00::1]/", id="unique-local-v6"),
    pytest.param("https://[fe80::1]/", id="link-local-v6"),
    pytest.param("https://224.0.0.1/", id="multicast"),
    pytest.param("https://[ff02::1]/", id="multicast-v6"),
    pytest.param("https://0.0.0.0/", id="unspecified"),
    pytest.param("https://240.0.0.1/", id="reserved"),
    pytest.param("https://255.255.255.255/", id="broadcast"),
    pytest.param("https://user:secret@example.com/", id="credentials"),
    pytest.param("https://", id="no-host"),
    pytest.param("https://example.com:99999/", id="bad-port"),
    pytest.param("127.0.0.1:8080/hook", id="no-scheme"),
]


def post(api: Any, url: str) -> tuple[int, Any]:
    return api.call("POST", "/v1/messages", {"to": numbers(1), "text": TEXT, "status_callback_url": url})  # type: ignore[no-any-return]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_status_callback_url_is_400_naming_the_field(api: Any, fresh: LocalStack, url: str) -> None:
    """The default deployment: no host allowed beyond public addresses, as on AWS."""
    code, answer = post(api, url)

    assert code == 400, answer
    assert answer["error"]["field"] == "status_callback_url", answer
    assert fresh.queue_depth() == 0


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8099/_sim/reset", "https://localhost:5000/", "https://127.0.0.2/", "https://[::1]/"],
)
def test_allowing_a_host_allows_that_host_only_and_still_over_https(
    api: Any, fresh: LocalStack, webhook_env: None, url: str
) -> None:
    assert post(api, "https://127.0.0.1:9/hook")[0] == 202
    code, answer = post(api, url)
    assert code == 400 and answer["error"]["field"] == "status_callback_url", answer


def test_the_address_is_checked_again_at_delivery_time(
    api: Any, drain: Any, fresh: LocalStack, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the API's check and the delivery, DNS moved the name to a private address."""
    import socket

    real = socket.getaddrinfo

    def resolving_to(address: str) -> Callable[..., Any]:
        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "hooks.example.com":
                return real(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        return getaddrinfo

    monkeypatch.setattr(socket, "getaddrinfo", resolving_to("93.184.215.14"))
    job_id = submit(api, numbers(3), status_callback_url="https://hooks.example.com/done")
    drain()
    monkeypatch.setattr(socket, "getaddrinfo", resolving_to("10.1.2.3"))

    deliver(fresh)

    assert receiver.count() == 0
    assert fresh.queue_depth("WebhookQueue") == 0  # dropped: retrying cannot make it safe
    assert get_job(api, job_id)["status"] == "completed"


@pytest.fixture
def deadline_s(webhook_env: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    def apply(seconds: float) -> None:
        monkeypatch.setenv("WEBHOOK_DEADLINE_SECONDS", str(seconds))
        reset_caches()

    return apply


@pytest.mark.timeout(60)
def test_an_endpoint_that_trickles_is_cut_off_at_the_deadline(
    api: Any,
    drain: Any,
    fresh: LocalStack,
    certificate: tuple[Path, Path],
    deadline_s: Callable[[float], None],
) -> None:
    """A byte every 0.2 s never trips a per-read timeout; the attempt's total deadline (2 s) does."""
    deadline_s(2)
    trickler = Receiver(certificate, trickle_s=0.2, trickle_for_s=45)
    try:
        submit(api, numbers(3), status_callback_url=trickler.url)
        drain()
        assert fresh.poller("StatusCallbackFunction").poll_once() == 1
        end = time.monotonic() + 20
        while trickler.open_trickles() and time.monotonic() < end:
            time.sleep(0.1)
        (trickle,) = trickler.trickles
    finally:
        trickler.close()

    assert trickle["cut_by_client"], trickle
    assert 0 < trickle["sent"] < 10_000, trickle  # part of the status line and headers, not the answer
    assert fresh.queue_depth("WebhookQueue") == 1  # failed: tried again after the backoff


@pytest.mark.timeout(120)
def test_endpoints_that_trickle_for_minutes_do_not_slow_other_jobs(
    api: Any, fresh: LocalStack, certificate: tuple[Path, Path], deadline_s: Callable[[float], None]
) -> None:
    """Five jobs whose status callbacks trickle (held open for as long as the test runs, up to 90 s),
    then a plain job: it completes while all five callbacks are still being answered."""
    deadline_s(600)  # longer than any trickle: the callbacks stay in flight for the whole test
    trickler = Receiver(certificate, trickle_s=0.5, trickle_for_s=90)
    pollers = [fresh.poller(name).start() for name in ("SenderFunction", "StatusCallbackFunction")]
    try:
        for index in range(5):
            submit(api, numbers(10, start=1_000_000 + 100 * index), status_callback_url=trickler.url)
        end = time.monotonic() + 60
        while trickler.open_trickles() < 5 and time.monotonic() < end:
            fresh.drain_streams()  # the counts function, as the stream's event source runs it
            time.sleep(0.05)
        assert trickler.open_trickles() == 5, trickler.trickles

        plain = submit(api, numbers(10, start=2_000_000))
        end = time.monotonic() + 60
        while (job := get_job(api, plain))["status"] != "completed" and time.monotonic() < end:
            fresh.drain_streams()
            time.sleep(0.05)
        still_open = trickler.open_trickles()
    finally:
        trickler.close()
        for poller in pollers:
            poller.stop()

    assert job["status"] == "completed" and job["counts"]["submitted"] == 10, job
    assert still_open == 5, "a status callback ended before the plain job finished: it was held up"
    assert simulator(fresh).stats()["recipients_accepted"] == 60
    print(f"\nplain job done, {still_open} trickling callbacks in flight: {json.dumps(job['counts'])}")


def test_a_callback_that_always_fails_ends_in_the_dead_letter_queue(
    api: Any, drain: Any, fresh: LocalStack, webhook_env: None
) -> None:
    """Each failed attempt sets the message's visibility to the backoff; the test lets the backoff run
    out at once, and after the queue's receive limit SQS moves the message to the dead-letter queue."""
    import socket

    from tests.integration.faults import sqs

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    submit(api, numbers(3), status_callback_url=f"https://127.0.0.1:{closed}/hook")
    drain()
    queue = next(q for q in fresh.template.queue_definitions() if q.logical_id == "WebhookQueue")
    assert queue.redrive is not None
    url, poller = fresh.resources.queue_url("WebhookQueue"), fresh.poller("StatusCallbackFunction")
    for attempt in range(1, queue.redrive.max_receive_count + 1):
        (message,) = poller.receive(0)
        assert int(message["Attributes"]["ApproximateReceiveCount"]) == attempt
        assert poller.invoke([message]) == [message["MessageId"]]
        sqs(fresh).change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    assert poller.receive(0) == []
    assert fresh.queue_depth("WebhookQueue") == 0
    assert fresh.queue_depth("WebhookDeadLetterQueue") == 1
