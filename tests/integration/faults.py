"""Helpers for the reliability tests (issue 4): settings overrides, a recorder wrapped around the
Clickatell simulator, direct reads of the table and the queues, and the invariants every job must keep.

Import the fixtures into a test module (`from tests.integration.faults import settings_env`) so pytest
registers them there; conftest.py stays untouched.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from bulksms.adapters.store import RECIPIENT_PARTITIONS, recipient_pk

from local import aws_env
from local.aws_env import ACCOUNT, REGION, clients
from local.simulator import one_api as sim_one_api
from local.simulator import server as sim_server
from local.stack import LocalStack
from tests.integration.jobs import get_job

# ---- moto ---------------------------------------------------------------------------------------------
#
# The local stack serves one DynamoDB request at a time (local.aws_env.DYNAMODB_LOCK: moto's
# TransactWriteItems is not isolated). The direct reads below take the same lock.

_MOTO_LOCK = aws_env.DYNAMODB_LOCK


@pytest.fixture(autouse=True)
def harness(stack: LocalStack) -> Iterator[None]:
    """After every test of these modules: the simulator's settings as they were (credit,
    stall_seconds...: `fresh` resets faults, not settings) and empty queues (`fresh` receives and
    deletes only *visible* messages, so a message a test leaves in flight, waiting out the queue's
    720 s visibility timeout, would make the next test's `drain` wait for it forever)."""
    assert stack.simulator is not None
    simulator_settings = stack.simulator.settings.as_dict()
    yield
    stack.simulator.configure(**simulator_settings)
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[ACCOUNT][REGION]
    for logical_id in (queue.logical_id for queue in stack.template.queue_definitions()):
        if stack.queue_depth(logical_id):
            name = stack.resources.refs[f"{logical_id}.QueueName"]
            backend.get_queue(name).last_purged_at = None  # PurgeQueue is allowed once a minute
            backend.purge_queue(name)


# ---- settings read once per container -----------------------------------------------------------


def _cached_functions() -> list[Any]:
    """Every functools.cache'd factory the handlers build from settings (found, not listed, so a new
    one added to runtime is cleared too)."""
    from bulksms import runtime, settings
    from bulksms.adapters import clickatell

    found = []
    for module in (settings, runtime, clickatell):
        for value in vars(module).values():
            if (
                callable(value)
                and hasattr(value, "cache_clear")
                and getattr(value, "__module__", "") == module.__name__
            ):
                found.append(value)
    return found


def reset_caches() -> None:
    """Forget the settings and everything built from them; close what the old objects held."""
    from bulksms import runtime
    from bulksms.adapters import clickatell

    old_executor = runtime.executor() if runtime.executor.cache_info().currsize else None
    old_pool = clickatell.http_pool() if clickatell.http_pool.cache_info().currsize else None
    for function in _cached_functions():
        function.cache_clear()
    if old_executor is not None:
        old_executor.shutdown(wait=False)
    if old_pool is not None:
        old_pool.clear()


@pytest.fixture
def settings_env() -> Iterator[Callable[..., None]]:
    """`settings_env(CHUNK_LEASE_SECONDS=2, ...)`: set environment variables and rebuild the cached
    settings, sender, pool and executor; the environment and the caches are restored after the test."""
    environment = pytest.MonkeyPatch()

    def apply(**values: Any) -> None:
        for name, value in values.items():
            environment.setenv(name, str(value))
        reset_caches()

    reset_caches()
    yield apply
    environment.undo()
    reset_caches()


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the simulator, seen from the wire ----------------------------------------------------------

_ID_LINE = re.compile(r"^ID: (?P<id>\w+)(?: To: (?P<to>\d+))?\s*$", re.M)
_ERR_LINE = re.compile(r"^ERR: (?P<code>\d+), (?P<desc>.*?)(?: To: (?P<to>\d+))?\s*$", re.M)


@dataclass
class WireCall:
    numbers: tuple[str, ...]
    action: str  # answer | http_error | stall | reset
    status: int
    body: str
    scripted: bool  # answered by the test's script, not processed by the simulator
    api: str = "http"  # "http": sendmsg; "one": the One API

    def ids(self) -> dict[str, str]:
        """Numbers this answer gave a message id."""
        if self.api == "one":
            return {e["to"]: e["apiMessageId"] for e in self._one_entries() if e.get("accepted")}
        single = len(self.numbers) == 1
        out = {}
        for match in _ID_LINE.finditer(self.body):
            to = match["to"] or (self.numbers[0] if single else None)
            if to:
                out[to] = match["id"]
        return out

    def errors(self) -> dict[str, str]:
        """Numbers this answer refused on their own line or message object, with the code."""
        if self.api == "one":
            return {e["to"]: str(e["error"]["code"]) for e in self._one_entries() if e.get("error")}
        return {m["to"]: m["code"] for m in _ERR_LINE.finditer(self.body) if m["to"]}

    def _one_entries(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.body).get("messages") or [])
        except ValueError:
            return []


@dataclass
class SimRecorder:
    """Wraps the simulator's send entry points (`sendmsg`, and `send_one` for the One API) on the
    instance: records every send request and what the simulator did with it, and lets a test script
    answers (e.g. a 503 before processing).

    `script(numbers, attempt) -> _Outcome | None`: attempt is 1-based per distinct `to`.
    Return an outcome to answer without processing, None to process normally; `after(numbers, attempt,
    outcome) -> _Outcome` may replace the answer of a processed request (e.g. a 504 after processing).
    """

    original: Callable[[str, dict[str, str]], Any]
    original_one: Callable[[str, bytes], Any] | None = None
    script: Callable[[tuple[str, ...], int], Any] | None = None
    after: Callable[[tuple[str, ...], int, Any], Any] | None = None
    on_call: Callable[[int], Any] | None = None  # called with the number of requests started before
    started: int = 0
    calls: list[WireCall] = field(default_factory=list)
    attempts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, method: str, params: dict[str, str]) -> Any:
        to = tuple(n for n in (item.strip() for item in params.get("to", "").split(",")) if n)
        return self._record("http", to, lambda: self.original(method, params))

    def one(self, api_key: str, body: bytes) -> Any:
        assert self.original_one is not None
        to = tuple(sim_one_api.read_request(body).numbers)
        return self._record("one", to, lambda: self.original_one(api_key, body))  # type: ignore[misc]

    def _record(self, api: str, to: tuple[str, ...], process: Callable[[], Any]) -> Any:
        with self._lock:
            self.attempts[to] += 1
            attempt = self.attempts[to]
            started_before = self.started
            self.started += 1
        if self.on_call:
            self.on_call(started_before)
        scripted = self.script(to, attempt) if self.script else None
        if scripted is not None:
            outcome = scripted
        else:
            outcome = process()
            if self.after:
                outcome = self.after(to, attempt, outcome)
        body = outcome.body.decode("utf-8", "replace") if outcome.body else ""
        with self._lock:
            self.calls.append(WireCall(to, outcome.action, outcome.status, body, scripted is not None, api))
        return outcome

    # what the product was told, per number
    def answered(self) -> list[WireCall]:
        return [c for c in self.calls if c.action == "answer"]

    def per_number_errors(self) -> dict[str, str]:
        """Numbers refused on their own line (`ERR: code, ... To: n`, or a One API message error) in an
        answer that reached the sender."""
        out: dict[str, str] = {}
        for call in self.answered():
            out.update(call.errors())
        return out

    def accepted_ids(self) -> dict[str, list[str]]:
        """Numbers given an ID in an answer that reached the sender."""
        out: dict[str, list[str]] = defaultdict(list)
        for call in self.answered():
            for to, api_message_id in call.ids().items():
                out[to].append(api_message_id)
        return out

    def posts_per_number(self) -> Counter[str]:
        """How many send requests carried each number (scripted ones included)."""
        counts: Counter[str] = Counter()
        for call in self.calls:
            counts.update(call.numbers)
        return counts


@pytest.fixture
def wire(fresh: LocalStack, monkeypatch: pytest.MonkeyPatch) -> SimRecorder:
    sim = fresh.simulator
    assert sim is not None
    recorder = SimRecorder(
        original=type(sim).sendmsg.__get__(sim), original_one=type(sim).send_one.__get__(sim)
    )
    monkeypatch.setattr(sim, "sendmsg", recorder)
    monkeypatch.setattr(sim, "send_one", recorder.one)
    return recorder


def http_error(status: int) -> Any:
    """An answer from the gateway in front of Clickatell, without ID/ERR lines."""
    body = sim_server._5XX_BODIES.get(status, f"<html><body>{status}</body></html>\n".encode())
    return sim_server._Outcome("http_error", status, body)


def plain_answer(text: str, status: int = 200) -> Any:
    """A text answer with any status (the simulator's "answer" action always sends 200)."""
    return sim_server._Outcome("answer" if status == 200 else "http_error", status, text.encode())


# ---- the table, read directly ---------------------------------------------------------------------


def table(stack: LocalStack) -> Any:
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )
    return session.resource("dynamodb", endpoint_url=stack.endpoint).Table(stack.resources.refs["Table"])


def _job_keys(job_id: str) -> list[str]:
    """Every partition key a job's items live under: the job's own and its recipient partitions."""
    return [f"JOB#{job_id}", *(recipient_pk(job_id, p) for p in range(RECIPIENT_PARTITIONS))]


def _query(stack: LocalStack, job_id: str, prefix: str) -> list[dict[str, Any]]:
    """The job's items whose sort key starts with `prefix`, read from moto's in-process store.

    A Query through the endpoint costs moto about a second per page on a partition of 20,000 items
    (it scans and sorts the whole partition for every page); this reads the same items directly.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend = dynamodb_backends[ACCOUNT][REGION]
    with _MOTO_LOCK:
        tbl = backend.get_table(stack.resources.refs["Table"])
        return [
            item.to_regular_json()
            for pk in _job_keys(job_id)
            for sk, item in list(tbl.items.get(DynamoType({"S": pk}), {}).items())
            if str(sk.value).startswith(prefix)
        ]


def forget_job(stack: LocalStack, job_id: str) -> None:
    """Drop a big job's items from moto at once (the next test's `fresh` would otherwise scan and
    delete them page by page, about 15 s for 20,000 recipients)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    with _MOTO_LOCK:
        tbl = dynamodb_backends[ACCOUNT][REGION].get_table(stack.resources.refs["Table"])
        for pk in _job_keys(job_id):
            tbl.items.pop(DynamoType({"S": pk}), None)


def job_items_of(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    """Every item of a job (job, chunks, recipients), as plain values."""
    return _query(stack, job_id, "")


def recipient_items(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    return _query(stack, job_id, "R#")


def chunk_items(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    return sorted(_query(stack, job_id, "CHUNK#"), key=lambda c: int(c["chunk"]))


def job_items(stack: LocalStack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"FilterExpression": "sk = :job", "ExpressionAttributeValues": {":job": "JOB"}}
    tbl = table(stack)
    while True:
        page = tbl.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---- the queues --------------------------------------------------------------------------------------


def sqs(stack: LocalStack) -> Any:
    return clients(stack.endpoint)[1]


def send_queue_url(stack: LocalStack) -> str:
    return stack.resources.queue_url("SendQueue")


def receive(stack: LocalStack, max_messages: int = 10, logical_id: str = "SendQueue") -> list[dict[str, Any]]:
    answer = sqs(stack).receive_message(
        QueueUrl=stack.resources.queue_url(logical_id),
        MaxNumberOfMessages=max_messages,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def make_visible(stack: LocalStack, messages: list[dict[str, Any]]) -> None:
    """What a visibility timeout running out does, now: the messages can be received again."""
    for message in messages:
        sqs(stack).change_message_visibility(
            QueueUrl=send_queue_url(stack), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def enqueue(stack: LocalStack, body: str) -> None:
    sqs(stack).send_message(QueueUrl=send_queue_url(stack), MessageBody=body)


def sweep(stack: LocalStack) -> dict[str, int]:
    result: dict[str, int] = stack.invoke_scheduled("SweeperFunction")
    return result


def expire_leases(stack: LocalStack, job_id: str) -> None:
    """Make the job's live claims look as old as their lease: what the passing of time would do, without
    waiting for it (the tests run with long leases, so no lease runs out by itself on a slow machine)."""
    from bulksms.adapters.store import chunk_key

    for chunk in chunk_items(stack, job_id):
        if chunk["state"] == "claimed":
            table(stack).update_item(
                Key=chunk_key(job_id, int(chunk["chunk"])),
                UpdateExpression="SET lease_until = :past",
                ExpressionAttributeValues={":past": int(time.time()) - 1},
            )


# ---- the invariants --------------------------------------------------------------------------------

FINAL_RECIPIENT = {"submitted", "delivered", "failed", "expired", "unknown", "cancelled"}


def check_every_number_once(
    stack: LocalStack, api: Any, job_id: str, sent: Sequence[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every accepted number has exactly one recipient item, in a final status; the job's counts are
    the tally of those items and add up to the total. Returns the job view and the items by number."""
    items = recipient_items(stack, job_id)
    by_number: dict[str, dict[str, Any]] = {}
    for item in items:
        assert item["to"] not in by_number, f"two items for {item['to']}"
        by_number[item["to"]] = item
    assert len(items) == len(sent), f"{len(items)} recipient items for {len(sent)} numbers"
    assert set(by_number) == set(sent), (
        f"missing: {sorted(set(sent) - set(by_number))[:5]}, extra: {sorted(set(by_number) - set(sent))[:5]}"
    )
    statuses = Counter(item["status"] for item in items)
    assert set(statuses) <= FINAL_RECIPIENT, f"recipients left not final: {statuses}"
    job = get_job(api, job_id)
    counts = job["counts"]
    assert counts["total"] == len(sent)
    assert counts["queued"] == 0, counts
    assert {s: n for s, n in counts.items() if s != "total" and n} == dict(statuses), (counts, statuses)
    assert sum(n for s, n in counts.items() if s != "total") == len(sent)
    return job, by_number
