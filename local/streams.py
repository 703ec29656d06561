"""Invoke a function's real handler from a DynamoDB stream the way a Lambda event source mapping does.

Reads the table's stream from moto in order (one reader per shard), gathers up to BatchSize records
for at most the batching window, drops the records the event source's FilterCriteria leave out (as
Lambda does, before invoking), and invokes the handler with a DynamoDB-Streams-shaped event. A batch
whose invocation raises is delivered again, bisected when BisectBatchOnFunctionError is set, until it
succeeds or MaximumRetryAttempts is spent; then a record of it goes to the OnFailure queue and the
reader moves on, as on AWS. Nothing is skipped or reordered otherwise: a shard's next batch waits for
the current one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import urllib3

from local.context import LocalContext
from local.poller import FunctionTarget
from local.template import StreamTrigger

log = logging.getLogger("local.streams")
_RETRY_PAUSE_S = 0.2


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether an event matches a Lambda filter pattern (the forms the template uses: nested fields,
    lists of allowed values, `{"prefix": ...}` and `{"exists": ...}`)."""
    for name, wanted in pattern.items():
        present = name in event
        value = event.get(name)
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
            continue
        if not isinstance(wanted, list):
            raise ValueError(f"unsupported filter pattern value {wanted!r}")
        if not any(_allowed(rule, present, value) for rule in wanted):
            return False
    return True


def _allowed(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "exists" in rule:
            return present is bool(rule["exists"])
        raise ValueError(f"unsupported filter rule {rule!r}")
    return present and value == rule


class MotoStreams:
    """The three DynamoDB Streams calls the poller makes, answered by the in-process moto backend.

    Lambda's own poller reads the stream inside AWS; reading moto's in-process store is the local
    equivalent. Through moto's HTTP endpoint, GetRecords spends about 4 ms per record serialising it
    (and botocore about 1 ms parsing it), which alone would hold the counts to ~200 changes a second.
    The records are exactly what moto's endpoint would return; the lock is the one moto's DynamoDB
    requests hold (local/aws_env.py), so a read never sees the stream half trimmed.
    """

    def __init__(self, account: str, region: str, lock: Any) -> None:
        self._account, self._region, self._lock = account, region, lock

    def _backend(self) -> Any:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        return dynamodbstreams_backends[self._account][self._region]

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        with self._lock:
            return {"StreamDescription": self._backend().describe_stream(StreamArn)}

    def get_shard_iterator(
        self,
        StreamArn: str,
        ShardId: str,
        ShardIteratorType: str,
    ) -> dict[str, Any]:
        with self._lock:
            iterator = self._backend().get_shard_iterator(StreamArn, ShardId, ShardIteratorType)
            return {"ShardIterator": iterator.arn}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        with self._lock:
            answer: dict[str, Any] = self._backend().get_records(ShardIterator, Limit)
            return answer


_STREAMS_PATH = "/_local/streams/"
_STREAM_CALLS = ("describe_stream", "get_shard_iterator", "get_records")


def streams_endpoint(app: Any, streams: MotoStreams) -> Any:
    """moto's WSGI app, plus MotoStreams' three calls as JSON at /_local/streams/<call>: how a stack
    whose moto runs in another process (local.moto_server) reads the stream where it is kept."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(_STREAMS_PATH):
            return app(environ, start_response)
        call = path.removeprefix(_STREAMS_PATH)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            if call not in _STREAM_CALLS:
                raise ValueError(f"no stream call {call!r}")
            arguments = json.loads(environ["wsgi.input"].read(length) or b"{}")
            status, body = "200 OK", json.dumps(getattr(streams, call)(**arguments), default=_epoch_seconds)
        except Exception as error:  # e.g. a trimmed position: the reader starts over, as on AWS
            status, body = "400 Bad Request", json.dumps({"error": f"{type(error).__name__}: {error}"})
        start_response(status, [("Content-Type", "application/json")])
        return [body.encode()]

    return serve


class HttpStreams:
    """MotoStreams' three calls over HTTP, to a moto in its own process (see streams_endpoint)."""

    def __init__(self, endpoint: str) -> None:
        self._url = f"{endpoint}{_STREAMS_PATH}"
        self._http = urllib3.PoolManager(maxsize=4, timeout=urllib3.Timeout(connect=5, read=30))

    def _call(self, call: str, **arguments: Any) -> dict[str, Any]:
        answer = self._http.request(
            "POST", self._url + call, body=json.dumps(arguments).encode(), retries=False
        )
        body: dict[str, Any] = json.loads(answer.data)
        if answer.status != 200:
            raise RuntimeError(f"{call} failed: {body.get('error')}")
        return body

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return self._call("describe_stream", StreamArn=StreamArn)

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str) -> dict[str, Any]:
        return self._call(
            "get_shard_iterator", StreamArn=StreamArn, ShardId=ShardId, ShardIteratorType=ShardIteratorType
        )

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        return self._call("get_records", ShardIterator=ShardIterator, Limit=Limit)


def _epoch_seconds(value: Any) -> int:
    """A stream record's time as Lambda delivers it: whole seconds since the epoch."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        sqs: Any,
        stream_arn: str,
        trigger: StreamTrigger,
        target: FunctionTarget,
        on_failure_queue_url: str | None,
    ) -> None:
        self._streams = streams
        self._sqs = sqs
        self._arn = stream_arn
        self._trigger = trigger
        self._target = target
        self._failure_queue = on_failure_queue_url
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._iterators: dict[str, str] = {}
        self._lock = threading.Lock()
        self.invocations = 0
        self.failed_invocations = 0
        self.records_delivered = 0
        self.batches_sent_to_failure = 0

    # -- reading ------------------------------------------------------------------------------------

    def _shards(self) -> list[str]:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def _iterator(self, shard: str) -> str:
        if shard not in self._iterators:
            self._iterators[shard] = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard, ShardIteratorType=self._trigger.starting_position
            )["ShardIterator"]
        return self._iterators[shard]

    def read_batch(self, shard: str, window_s: float | None = None) -> list[dict[str, Any]]:
        """Up to BatchSize records of a shard, waiting at most the batching window for more."""
        records: list[dict[str, Any]] = []
        window = self._trigger.batching_window_s if window_s is None else window_s
        deadline = time.monotonic() + window
        while len(records) < self._trigger.batch_size:
            try:
                answer = self._streams.get_records(
                    ShardIterator=self._iterator(shard),
                    Limit=min(1000, self._trigger.batch_size - len(records)),
                )
            except Exception:
                # The position was trimmed away (the reader fell behind the retention): start over
                # at the oldest record, as a new event source mapping at TRIM_HORIZON would.
                log.exception("stream position of %s lost; reading from the oldest record", shard)
                self._iterators.pop(shard, None)
                raise
            self._iterators[shard] = answer["NextShardIterator"]
            records.extend(answer["Records"])
            if time.monotonic() >= deadline or self._stop.is_set():
                break
            if not answer["Records"]:
                self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return records

    # -- delivering ---------------------------------------------------------------------------------

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        """Filter and deliver one batch, with the event source's retries, bisection and on-failure."""
        wanted = [
            self._event_record(r)
            for r in records
            if not self._trigger.filter_patterns or any(matches(p, r) for p in self._trigger.filter_patterns)
        ]
        if wanted:
            self._deliver(wanted, attempts_left=self._trigger.max_retry_attempts)

    def _deliver(self, batch: list[dict[str, Any]], attempts_left: int) -> None:
        while True:
            if self.invoke(batch):
                return
            if self._stop.is_set():
                return  # the stack is stopping (its moto may be gone): no more retries
            if attempts_left == 0:
                self._send_to_failure(batch)
                return
            attempts_left -= 1
            self._stop.wait(_RETRY_PAUSE_S)
            if self._trigger.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(batch[:half], attempts_left)
                self._deliver(batch[half:], attempts_left)
                return

    def invoke(self, batch: list[dict[str, Any]]) -> bool:
        context = LocalContext(self._target.name, self._target.memory_mb, self._target.timeout_s)
        try:
            self._target.handler({"Records": batch}, context)
        except Exception:
            log.exception("%s raised; its %d records will be delivered again", self._target.name, len(batch))
            with self._lock:
                self.invocations += 1
                self.failed_invocations += 1
            return False
        with self._lock:
            self.invocations += 1
            self.records_delivered += len(batch)
        return True

    def _send_to_failure(self, batch: list[dict[str, Any]]) -> None:
        """What Lambda sends to an OnFailure destination: where the batch was, not its records."""
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        log.error("%s gave up on %d records after its retries", self._target.name, len(batch))
        with self._lock:
            self.batches_sent_to_failure += 1
        if self._failure_queue:
            body = {
                "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self._target.name},
                "DDBStreamBatchInfo": {
                    "streamArn": self._arn,
                    "startSequenceNumber": sequences[0],
                    "endSequenceNumber": sequences[-1],
                    "batchSize": len(batch),
                },
            }
            self._sqs.send_message(QueueUrl=self._failure_queue, MessageBody=json.dumps(body))

    def _event_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as Lambda delivers it: with the stream's ARN, and the time as epoch seconds."""
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):  # read in this process; over HTTP it is seconds already
            data["ApproximateCreationDateTime"] = _epoch_seconds(created)
        return {**record, "dynamodb": data, "eventSourceARN": self._arn}

    # -- running ------------------------------------------------------------------------------------

    def poll_once(self, window_s: float | None = None) -> int:
        """Read and deliver one batch from every shard; the number of records read."""
        read = 0
        for shard in self._shards():
            records = self.read_batch(shard, window_s)
            read += len(records)
            if records:
                self.deliver(records)
        return read

    def drain(self, max_batches: int = 10_000) -> int:
        """Deliver everything the stream holds now (for tests that drive the stack by hand)."""
        total = 0
        for _ in range(max_batches):
            read = self.poll_once(window_s=0)
            total += read
            if not read:
                return total
        raise RuntimeError("the stream did not drain")

    def start(self) -> StreamPoller:
        thread = threading.Thread(target=self._run, name=f"stream-{self._target.name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(0.05)
            except Exception:
                log.exception("reading the stream for %s failed; retrying", self._target.name)
                self._stop.wait(1)

    def stop(self, wait_s: float = 30.0) -> None:
        """Read no new batch; wait at most `wait_s` for the invocation in flight (0: do not wait)."""
        self._stop.set()
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
