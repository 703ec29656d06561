"""Phases 1 and 2: the sender's send path, storing every result, against a baseline that does the same
POSTs and stores the same results the cheapest way boto3 can; and pooled keep-alive against a new
connection per POST. Both sides of a pair use the same simulator process (reset before each side), the
same numbers, the same chunking, the same PoolManager settings and the same threads.

ours      = what SenderFunction does for each chunk with its numbers and their results: read the
            chunk's numbers, `Provider.send` over the product's PoolManager (request building, POST,
            every answer line or message object parsed into a per-number result), the product's own
            `Store.put_results` (every recipient item built and sent through botocore as
            BatchWriteItem calls), and the chunk's counts.
baseline  = the same POSTs from a PoolManager built by the product's own factory, with bodies encoded
            before the clock starts (POST, read the body), then the same recipient items, built before
            the clock, written with a low-level boto3 client (the product's client config) in
            BatchWriteItem calls of 25.

DynamoDB is answered at botocore's HTTP layer on both sides: a `before-send` handler returns a
success (`{"UnprocessedItems": {}}`) instead of sending, so parameter validation, serialisation and
signing count and no DynamoDB, moto or network time does. The per-chunk bookkeeping calls (claim,
stop check, mark done) are left out of both: they cost the same per chunk whatever the results do.

The send path is measured for each provider (`http`: sendmsg in chunks of ChunkSize; `one`: the One
API, in chunks of at most 100), each against its own baseline.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3

from bench.config import MESSAGE_TEXT, SIM_API_ID, SIM_API_KEY, SIM_PASSWORD, SIM_USER, BenchConfig, numbers

Progress = Callable[[str], None]


@dataclass
class Side:
    name: str
    recipients: int
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    sim: dict[str, Any] = field(default_factory=dict)  # simulator stats after the last round
    checked: int = 0  # recipients the side itself saw accepted (ours only)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.recipients / self.median_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "seconds": [round(s, 4) for s in self.seconds],
            "median_seconds": round(self.median_s, 4),
            "recipients_per_s": round(self.rate, 1),
            "client_cpu_us_per_recipient": round(
                statistics.median(self.cpu_seconds) / self.recipients * 1e6, 3
            ),
            "sim_requests": self.sim.get("requests"),
            "sim_recipients_accepted": self.sim.get("recipients_accepted"),
            "sim_connections": self.sim.get("connections"),
        }


class SimControl:
    """The simulator's /_sim controls, over a pool of their own (never the measured one)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = urllib3.PoolManager(num_pools=1, maxsize=1)

    def reset(self) -> None:
        answer = self._http.request("POST", f"{self.url}/_sim/reset", body=b"{}")
        if answer.status != 200:
            raise RuntimeError(f"simulator reset failed: HTTP {answer.status}")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads(self._http.request("GET", f"{self.url}/_sim/stats").data)
        return stats


def _run_side(
    work: Callable[[Any], int], items: Sequence[Any], threads: int, sim: SimControl
) -> tuple[float, float, int, dict[str, Any]]:
    """Reset the simulator, run `work` over `items` on `threads` threads like the sender's executor
    does (one future per chunk), and return wall and CPU seconds, the sum of what work returned, and
    the simulator's stats."""
    sim.reset()
    gc.collect()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench") as executor:
        cpu, start = time.process_time(), time.perf_counter()
        futures = [executor.submit(work, item) for item in items]
        total = sum(future.result() for future in futures)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, total, sim.stats()


def _alternate(
    sides: list[tuple[Side, Callable[[Any], int], Sequence[Any]]],
    rounds: int,
    threads: int,
    sim: SimControl,
    progress: Progress,
    label: str,
) -> None:
    for round_index in range(rounds):
        order = sides if round_index % 2 == 0 else list(reversed(sides))
        for side, work, items in order:
            wall, cpu, total, stats = _run_side(work, items, threads, sim)
            side.seconds.append(wall)
            side.cpu_seconds.append(cpu)
            side.sim = stats
            side.checked = total
            accepted = stats.get("recipients_accepted")
            if accepted != side.recipients:
                raise RuntimeError(
                    f"{label}/{side.name}: the simulator accepted {accepted} of {side.recipients} recipients"
                )
            progress(
                f"  {label} round {round_index + 1}/{rounds} {side.name:>5}: "
                f"{side.recipients / wall:>10,.0f} recipients/s ({wall:.2f} s, "
                f"{stats.get('connections')} connections)"
            )


def _product(sim_url: str) -> dict[str, Any]:
    """The product pieces the send path uses, imported only once the environment is set."""
    from bulksms.adapters.clickatell import ClickatellClient, http_pool
    from bulksms.adapters.one_api import OneApiClient
    from bulksms.adapters.store import Store, chunk_numbers, recipient_key
    from bulksms.domain import one_api
    from bulksms.domain.chunks import split
    from bulksms.domain.message import Credentials, Encoding, Message, build_sendmsg_form
    from bulksms.domain.status import RecipientStatus

    credentials = Credentials(user=SIM_USER, password=SIM_PASSWORD, api_id=SIM_API_ID)
    return {
        "ClickatellClient": ClickatellClient,
        "OneApiClient": OneApiClient,
        "one_api": one_api,
        "http_pool": http_pool,
        "store": Store(ANSWERED_TABLE, retention_days=90),
        "recipient_key": recipient_key,
        "chunk_numbers": chunk_numbers,
        "split": split,
        "message": Message(encoding=Encoding.GSM7, payload=MESSAGE_TEXT, parts=1),
        "credentials": credentials,
        "build_sendmsg_form": build_sendmsg_form,
        "SUBMITTED": RecipientStatus.SUBMITTED,
        "url": sim_url,
    }


def _chunk_items(p: dict[str, Any], recipients: int, chunk_size: int) -> list[dict[str, Any]]:
    """The chunk items as the store holds them (numbers comma-joined), indexed like the sender's."""
    return [
        {"chunk": index, "numbers": ",".join(chunk), "count": len(chunk)}
        for index, chunk in enumerate(p["split"](numbers(recipients), chunk_size))
    ]


PROVIDERS = ("http", "one")


@dataclass(frozen=True)
class _Wire:
    """One provider as the send path sees it: the product's client, and what its bare loop POSTs."""

    client: Any
    chunk_size: int
    url: str
    headers: dict[str, str]
    body: Callable[[list[str]], str | bytes]


def _wire(p: dict[str, Any], provider: str, sim_url: str, cfg: BenchConfig, job_id: str) -> _Wire:
    message = p["message"]
    if provider == "one":
        one_api = p["one_api"]
        return _Wire(
            p["OneApiClient"](sim_url, lambda: SIM_API_KEY, attempts=4),  # the product's pool
            min(cfg.chunk_size, one_api.MAX_MESSAGES_PER_REQUEST),
            sim_url + one_api.PATH,
            {"Content-Type": "application/json", "Accept": "application/json", "Authorization": SIM_API_KEY},
            lambda numbers_: one_api.build_request(message, numbers_, job_id),
        )
    form = p["build_sendmsg_form"]
    return _Wire(
        p["ClickatellClient"](sim_url, lambda: p["credentials"], attempts=4),
        cfg.chunk_size,
        f"{sim_url}/http/sendmsg",
        {"Content-Type": "application/x-www-form-urlencoded"},
        lambda numbers_: urlencode(form(message, numbers_, p["credentials"], job_id)),
    )


ANSWERED_TABLE = "bench-answered"  # never reached: botocore's HTTP layer answers for DynamoDB
_SUCCESS = b'{"UnprocessedItems":{}}'
_BATCH = 25  # items per BatchWriteItem, as the store sends them
# What botocore needs to build and sign a request; the endpoint is a closed port, so a request that
# the handler failed to answer could never reach AWS.
_PLACEHOLDER_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
}


class _Raw:
    """The body of a canned answer, as botocore reads an urllib3 response's."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class AnsweredWrites:
    """Answers a client's BatchWriteItem calls at botocore's `before-send`, counting them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-send.dynamodb.BatchWriteItem", self._answer)

    def _answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        with self._lock:  # one per 25 items: nothing against the work it answers
            self.calls += 1
        return AWSResponse(request.url, 200, {}, _Raw(_SUCCESS))

    def close(self) -> None:
        self.client.meta.events.unregister("before-send.dynamodb.BatchWriteItem", self._answer)


@contextlib.contextmanager
def _answered_dynamodb() -> Iterator[tuple[AnsweredWrites, AnsweredWrites]]:
    """The product's low-level DynamoDB client and the baseline's own, both answered at HTTP; the
    product's cached client is dropped afterwards, so later phases build theirs against moto."""
    import boto3
    from bulksms.adapters import aws

    saved = {name: os.environ.get(name) for name in _PLACEHOLDER_AWS}
    os.environ.update(_PLACEHOLDER_AWS)
    aws.dynamodb_client.cache_clear()
    ours = AnsweredWrites(aws.dynamodb_client())
    baseline = AnsweredWrites(boto3.client("dynamodb", config=aws._CONFIG))
    try:
        yield ours, baseline
    finally:
        ours.close()
        baseline.close()
        aws.dynamodb_client.cache_clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def send_with_writes_vs_baseline(sim_url: str, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    """The send path with its writes against the baseline, for each provider."""
    with _answered_dynamodb() as clients:
        return {
            provider: _send_vs_baseline(sim_url, cfg, progress, provider, *clients) for provider in PROVIDERS
        }


def _send_vs_baseline(
    sim_url: str,
    cfg: BenchConfig,
    progress: Progress,
    provider: str,
    ours_writes: AnsweredWrites,
    baseline_writes: AnsweredWrites,
) -> dict[str, Any]:
    p = _product(sim_url)
    sim = SimControl(sim_url)
    job_id = uuid.uuid4().hex
    wire = _wire(p, provider, sim_url, cfg, job_id)
    client, chunk_size = wire.client, wire.chunk_size
    store, chunk_numbers, submitted = p["store"], p["chunk_numbers"], p["SUBMITTED"]
    message = p["message"]

    def ours(chunk: dict[str, Any]) -> int:
        index = int(chunk["chunk"])
        numbers_ = chunk_numbers(chunk)
        verdict = client.send(message, numbers_, client_message_id=job_id)
        store.put_results(job_id, index, verdict.results)
        counts = verdict.counts()
        return int(counts[submitted])

    bare_pool = p["http_pool"].__wrapped__()  # a second PoolManager from the product's own factory
    url, headers = wire.url, wire.headers
    write = baseline_writes.client.batch_write_item

    def baseline(work: tuple[str | bytes, list[dict[str, Any]]]) -> int:
        body, requests = work
        answer = bare_pool.request("POST", url, body=body, headers=headers, retries=False)
        answer.data  # noqa: B018 - reading the body is the work
        for request in requests:
            write(RequestItems=request)
        return 0

    def prepared(chunks: list[dict[str, Any]]) -> list[tuple[str | bytes, list[dict[str, Any]]]]:
        return [(wire.body(chunk_numbers(c)), _result_requests(p, job_id, c)) for c in chunks]

    warm = _chunk_items(p, chunk_size * cfg.threads * 2, chunk_size)
    for work, items in ((ours, warm), (baseline, prepared(warm))):
        _run_side(work, items, cfg.threads, sim)

    chunks = _chunk_items(p, cfg.send_recipients, chunk_size)
    ours_side = Side("ours", cfg.send_recipients)
    baseline_side = Side("baseline", cfg.send_recipients)
    calls_before = ours_writes.calls, baseline_writes.calls
    _alternate(
        [(ours_side, ours, chunks), (baseline_side, baseline, prepared(chunks))],
        cfg.send_rounds,
        cfg.threads,
        sim,
        progress,
        f"send/{provider}",
    )
    if ours_side.checked != cfg.send_recipients:
        raise RuntimeError(
            f"send/{provider}/ours: {ours_side.checked} of {cfg.send_recipients} results were submitted"
        )
    # Every result was written, in as many BatchWriteItem calls as the baseline made.
    calls = [
        (ours_writes.calls - calls_before[0]) // cfg.send_rounds,
        (baseline_writes.calls - calls_before[1]) // cfg.send_rounds,
    ]
    expected = sum(-(-int(c["count"]) // _BATCH) for c in chunks)
    if calls != [expected, expected]:
        raise RuntimeError(f"send/{provider}: BatchWriteItem calls per round {calls}, expected {expected}")
    return {
        "provider": provider,
        "threads": cfg.threads,
        "chunk_size": chunk_size,
        "posts": len(chunks),
        "batch_write_calls_per_round": expected,
        "rounds": cfg.send_rounds,
        "ours": ours_side.as_dict(),
        "baseline": baseline_side.as_dict(),
        "ratio": round(ours_side.rate / baseline_side.rate, 4),
        "paired_ratio_median": _paired(ours_side, baseline_side),
    }


def _result_requests(p: dict[str, Any], job_id: str, chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """The baseline's BatchWriteItem requests for a chunk: the recipient items the product writes for
    numbers the simulator accepts (32-character message ids like the simulator's), typed and batched."""
    index, numbers_ = str(chunk["chunk"]), p["chunk_numbers"](chunk)
    updated_at, expires = {"S": "2026-11-25T00:00:00.000Z"}, {"N": str(int(time.time()) + 90 * 86_400)}
    items = []
    for serial, to in enumerate(numbers_):
        key = p["recipient_key"](job_id, to)
        item = {
            "pk": {"S": key["pk"]},
            "sk": {"S": key["sk"]},
            "to": {"S": to},
            "status": {"S": "submitted"},
            "chunk": {"N": index},
            "updated_at": updated_at,
            "expires_at": expires,
            "api_message_id": {"S": f"{int(index) * 100_000 + serial:032x}"},
        }
        items.append({"PutRequest": {"Item": item}})
    return [{ANSWERED_TABLE: items[start : start + _BATCH]} for start in range(0, len(items), _BATCH)]


def pooled_vs_new_connection(sim_url: str, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    """ClickatellClient.send (the product path, no store writes) over the product's pooled PoolManager,
    against the same client given a fresh PoolManager from the same factory for every POST and closed
    after it: one new TCP connection per POST."""
    p = _product(sim_url)
    sim = SimControl(sim_url)
    job_id = uuid.uuid4().hex
    make_client, factory = p["ClickatellClient"], p["http_pool"].__wrapped__
    pooled_client = make_client(sim_url, lambda: p["credentials"], attempts=4)
    chunk_numbers, message, submitted = p["chunk_numbers"], p["message"], p["SUBMITTED"]

    def pooled(chunk: dict[str, Any]) -> int:
        verdict = pooled_client.send(message, chunk_numbers(chunk), client_message_id=job_id)
        return int(verdict.counts()[submitted])

    def new_connection(chunk: dict[str, Any]) -> int:
        pool = factory()
        try:
            client = make_client(sim_url, lambda: p["credentials"], attempts=4, http=pool)
            verdict = client.send(message, chunk_numbers(chunk), client_message_id=job_id)
        finally:
            pool.clear()  # closes the connection, as a process that does not keep it would
        return int(verdict.counts()[submitted])

    warm = _chunk_items(p, cfg.chunk_size * cfg.threads * 2, cfg.chunk_size)
    for work in (pooled, new_connection):
        _run_side(work, warm, cfg.threads, sim)

    chunks = _chunk_items(p, cfg.conn_recipients, cfg.chunk_size)
    pooled_side = Side("pooled", cfg.conn_recipients)
    fresh_side = Side("new", cfg.conn_recipients)
    _alternate(
        [(pooled_side, pooled, chunks), (fresh_side, new_connection, chunks)],
        cfg.send_rounds,
        cfg.threads,
        sim,
        progress,
        "connections",
    )
    return {
        "threads": cfg.threads,
        "chunk_size": cfg.chunk_size,
        "posts": len(chunks),
        "rounds": cfg.send_rounds,
        "pooled": pooled_side.as_dict(),
        "new_connection_per_post": fresh_side.as_dict(),
        "ratio": round(pooled_side.rate / fresh_side.rate, 4),
        "paired_ratio_median": _paired(pooled_side, fresh_side),
    }


def _paired(a: Side, b: Side) -> float:
    """The median of the per-round ratios (each round runs both sides back to back)."""
    return round(statistics.median(y / x for x, y in zip(a.seconds, b.seconds, strict=True)), 4)
