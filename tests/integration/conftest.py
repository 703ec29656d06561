"""One in-process local stack per session (moto, simulator, gateway on free ports); each test starts
from empty resources. The real handlers are invoked with real-shaped events."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from local.aws_env import ACCOUNT, REGION, client, clients
from local.stack import LocalStack, StackConfig
from local.tls import make_certificate
from tests.integration.webhooks import Receiver

API_KEY = "test-key"


class Api:
    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Sequence[tuple[str, str]] = (),
        api_key: str | None = API_KEY,
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if api_key is not None:
            sent["x-api-key"] = api_key
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        answer = self._stack.gateway.handle(method, path, query, sent, payload)
        return answer.status, json.loads(answer.body) if answer.body else None

    def drain_streams(self) -> None:
        """Let the counts function apply every recipient change stored so far (as the stream's event
        source would within a second on AWS or with `pollers=True`)."""
        self._stack.drain_streams()


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    config = StackConfig(
        api_port=0, moto_port=0, sim_port=0, api_key=API_KEY, pollers=False, sim_seed=7, sweep_every_s=3600
    )
    with LocalStack(config) as running:
        yield running


@pytest.fixture
def fresh(stack: LocalStack) -> LocalStack:
    """Empty table and queues, and a simulator with no faults and no history, for each test."""
    dynamodb = clients(stack.endpoint)[0]
    table = stack.resources.refs["Table"]
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for start in range(0, len(page["Items"]), 25):
            dynamodb.batch_write_item(
                RequestItems={
                    table: [{"DeleteRequest": {"Key": item}} for item in page["Items"][start : start + 25]]
                }
            )
    # Messages in flight too (a status callback waiting out its backoff): purged in moto directly,
    # as PurgeQueue through the API may run once a minute.
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[ACCOUNT][REGION]
    for queue in stack.template.queue_definitions():
        name = stack.resources.refs[f"{queue.logical_id}.QueueName"]
        backend.get_queue(name).last_purged_at = None
        backend.purge_queue(name)
    scheduler = client(stack.endpoint, "scheduler")
    group = stack.resources.refs["ScheduleGroup"]
    for schedule in scheduler.list_schedules(GroupName=group)["Schedules"]:
        scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
    assert stack.simulator is not None
    stack.simulator.reset()
    stack.simulator.configure(callback_url=stack.callback_url)
    return stack


@pytest.fixture
def api(fresh: LocalStack) -> Api:
    return Api(fresh)


@pytest.fixture
def drain(fresh: LocalStack) -> Any:
    """Run the real sender over the send queue until it is empty, then the counts function over the
    stream until it has applied every change; returns the number of sender invocations."""

    def run(max_invocations: int = 500) -> int:
        poller = fresh.sender_poller()
        for invocation in range(max_invocations):
            if not poller.poll_once() and not fresh.queue_depth():
                fresh.drain_streams()
                return invocation
        raise AssertionError("send queue still not empty")

    return run


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1: (cert, key)."""
    return make_certificate(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture
def webhook_env(certificate: tuple[Path, Path]) -> Iterator[None]:
    """The deployment allows 127.0.0.1 as a webhook host (as a test deployment would, through the
    WebhookAllowedHosts parameter) and trusts the test certificate; settings rebuilt, then restored."""
    from tests.integration.faults import reset_caches

    environment = pytest.MonkeyPatch()
    environment.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    environment.setenv("WEBHOOK_CA_FILE", str(certificate[0]))
    reset_caches()
    yield
    environment.undo()
    reset_caches()


@pytest.fixture
def receiver(webhook_env: None, certificate: tuple[Path, Path]) -> Iterator[Receiver]:
    server = Receiver(certificate)
    yield server
    server.close()
