"""The send queue as the SQS event source mapping uses it: partial batch responses, redelivery after the
visibility timeout, and the dead-letter queue after maxReceiveCount receives (design rule 5)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.context import LocalContext
from local.events import sqs_event
from local.functions import load_handler
from local.stack import LocalStack
from tests.integration.faults import (  # noqa: F401 - fixtures
    check_every_number_once,
    enqueue,
    harness,
    make_visible,
    receive,
    sqs,
)
from tests.integration.jobs import numbers

POISON_BODIES = [
    pytest.param("this is not JSON", id="not-json"),
    pytest.param(json.dumps({"job": "x", "chunk": 1}), id="unknown-shape"),
    pytest.param(json.dumps({"job_id": "a" * 32, "chunks": ["0"]}), id="chunks-not-ints"),
]


def _max_receive_count(stack: LocalStack) -> int:
    """From the template, checked against what the queue was created with."""
    queue = next(q for q in stack.template.queue_definitions() if q.logical_id == "SendQueue")
    assert queue.redrive is not None and queue.redrive.target == "SendDeadLetterQueue"
    attributes = sqs(stack).get_queue_attributes(
        QueueUrl=stack.resources.queue_url("SendQueue"), AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == queue.redrive.max_receive_count
    assert policy["deadLetterTargetArn"] == stack.resources.queue_arn("SendDeadLetterQueue")
    return queue.redrive.max_receive_count


def _invoke_sender(
    stack: LocalStack, messages: list[dict[str, Any]], timeout_s: float | None = None
) -> dict[str, Any]:
    """The sender handler called directly with an SQS event, as the event source mapping does."""
    function = stack.function("SenderFunction")
    context = LocalContext(function.logical_id, function.memory_mb, timeout_s or function.timeout_s)
    answer: dict[str, Any] = load_handler(function)(
        sqs_event(stack.resources.queue_arn("SendQueue"), messages), context
    )
    return answer


@pytest.mark.timeout(60)
@pytest.mark.parametrize("poison", POISON_BODIES)
def test_a_poison_message_fails_alone_and_reaches_the_dead_letter_queue(
    api: Any, fresh: LocalStack, poison: str
) -> None:
    to = numbers(1200)
    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": "hello"})
    assert status == 202
    enqueue(fresh, poison)
    batch = receive(fresh)
    assert len(batch) == 2, "the good and the poison message must arrive in one batch"
    poison_id = next(m["MessageId"] for m in batch if m["Body"] == poison)

    answer = _invoke_sender(fresh, batch)

    assert answer == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    # The poller deletes what was not reported; here the test does what it would.
    good = [m for m in batch if m["MessageId"] != poison_id]
    sqs(fresh).delete_message(
        QueueUrl=fresh.resources.queue_url("SendQueue"), ReceiptHandle=good[0]["ReceiptHandle"]
    )
    job, _ = check_every_number_once(fresh, api, accepted["job_id"], to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 1200
    assert fresh.simulator.stats()["requests"] == 2

    # The poison message comes back after each visibility timeout until maxReceiveCount, then the DLQ.
    max_receives = _max_receive_count(fresh)
    poller = fresh.sender_poller()
    receives = 1
    last = [m for m in batch if m["MessageId"] == poison_id]
    while True:
        make_visible(fresh, last)
        last = poller.receive(0)
        if not last:
            break
        assert [m["MessageId"] for m in last] == [poison_id]
        receives += 1
        assert int(last[0]["Attributes"]["ApproximateReceiveCount"]) == receives
        assert poller.invoke(last) == [poison_id]
        assert receives <= max_receives, "received more often than maxReceiveCount"
    assert receives == max_receives
    assert fresh.queue_depth("SendQueue") == 0
    dead = receive(fresh, logical_id="SendDeadLetterQueue")
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(poison_id, poison)]
    assert fresh.simulator.stats()["requests"] == 2  # nothing was sent for it, ever


def test_a_message_for_an_unknown_job_is_dropped_not_retried(fresh: LocalStack) -> None:
    enqueue(fresh, json.dumps({"job_id": "0" * 32, "chunks": [0, 1]}))
    batch = receive(fresh)
    assert _invoke_sender(fresh, batch) == {"batchItemFailures": []}
    assert fresh.simulator.stats()["requests"] == 0


@pytest.mark.timeout(60)
def test_a_transient_failure_fails_only_its_own_message_and_the_redelivery_finishes_the_job(
    api: Any, fresh: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage error before any claim (here: loading the chunks) fails one message of a batch; its
    redelivery sends the chunks, and the neighbour in the batch is unaffected."""
    from bulksms.adapters.store import Store

    first_job = numbers(600)
    second_job = numbers(600, start=2_000_000)
    ids = []
    for to in (first_job, second_job):
        status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": "hello"})
        assert status == 202
        ids.append(accepted["job_id"])
    original = Store.load_chunks
    failed: list[str] = []

    def load_chunks(self: Any, job_id: str, chunks: Any) -> Any:
        if job_id == ids[0] and not failed:
            failed.append(job_id)
            raise ConnectionError("DynamoDB endpoint unreachable")
        return original(self, job_id, chunks)

    monkeypatch.setattr(Store, "load_chunks", load_chunks)
    batch = receive(fresh)
    assert len(batch) == 2
    poller = fresh.sender_poller()
    failures = poller.invoke(batch)
    bad = next(m for m in batch if json.loads(m["Body"])["job_id"] == ids[0])
    assert failures == [bad["MessageId"]]
    assert fresh.simulator.stats()["requests"] == 1

    make_visible(fresh, [bad])
    assert poller.invoke(poller.receive(0)) == []
    for job_id, to in zip(ids, (first_job, second_job), strict=True):
        job, _ = check_every_number_once(fresh, api, job_id, to)
        assert job["status"] == "completed" and job["counts"]["submitted"] == 600
    stats = fresh.simulator.stats()
    assert stats["requests"] == 2 and stats["duplicate_sends"] == 0
    assert fresh.queue_depth() == 0


@pytest.mark.timeout(60)
def test_a_deferred_message_comes_back_in_seconds_not_after_the_visibility_timeout(
    api: Any, fresh: LocalStack
) -> None:
    """An invocation without time to finish a chunk leaves the chunks pending; the message must come
    back soon (the queue's visibility timeout is 720 s), and then sends them."""
    to = numbers(600)
    status, accepted = api.call("POST", "/v1/messages", {"to": to, "text": "hello"})
    assert status == 202
    batch = receive(fresh)
    (message,) = batch

    # 10 s left: less than one chunk's worst case, so nothing is started. Every record of the batch
    # failed, so the invocation fails (powertools), as the event source mapping sees it.
    with pytest.raises(BatchProcessingError):
        _invoke_sender(fresh, batch, timeout_s=10)

    assert fresh.simulator.stats()["requests"] == 0
    visibility = int(
        sqs(fresh).get_queue_attributes(
            QueueUrl=fresh.resources.queue_url("SendQueue"), AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
    )
    assert visibility == 720
    deadline = time.monotonic() + 30  # a bound for the test, far below the 720 s it would otherwise take
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        time.sleep(0.5)
        again = receive(fresh)
    assert [m["MessageId"] for m in again] == [message["MessageId"]], "still invisible after 30 s"
    assert _invoke_sender(fresh, again) == {"batchItemFailures": []}
    job, _ = check_every_number_once(fresh, api, accepted["job_id"], to)
    assert job["status"] == "completed"
