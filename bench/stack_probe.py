"""`python -m bench.stack_probe [python -m local.run options]`: the local stack exactly as
`python -m local.run` starts it (same `local.run.main`), with counters for the cost model.

It counts, without changing what is called:
- each handler invocation, its wall time and its CPU time, by function (the handlers the stack loads
  are wrapped; CPU is the invoking thread's, plus, for the sender, that of its worker threads while
  they send a chunk: what the function itself computes, without moto's or the simulator's work);
- every AWS call, by caller (the function whose handler is running on that thread, SenderFunction for
  the sender's worker threads, `event-source` for the SQS poller standing in for Lambda's event source
  mapping) and operation, with DynamoDB read and write request units estimated from item sizes as
  DynamoDB bills them (1 KB per write unit, 4 KB per strongly consistent read unit, halved for
  eventually consistent reads, doubled inside transactions).

On SIGUSR1 it writes the counters as JSON to $BENCH_STATS_FILE (atomically, with a sequence number),
so the bench can take a snapshot before and after each job.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
_WRITE_UNIT = 1024
_READ_UNIT = 4096


def _value_size(value: Any) -> int:
    """DynamoDB's size of one attribute value, for plain Python values and typed ({"S": ...}) ones."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in _TYPES:
            if kind == "S":
                return len(str(inner).encode())
            if kind == "N":
                return _number_size(inner)
            if kind == "B":
                return len(inner)
            if kind in ("BOOL", "NULL"):
                return 1
            if kind == "M":
                return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in inner.items())
            if kind == "L":
                return 3 + sum(1 + _value_size(v) for v in inner)
            return sum(_value_size({kind[0]: v}) for v in inner)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return _number_size(value)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + 1 + _value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _value_size(v) for v in value)
    if isinstance(value, set | frozenset):
        return sum(_value_size(v) for v in value)
    return len(str(value).encode())


def _number_size(value: Any) -> int:
    digits = len(str(value).lstrip("-").replace(".", "").lstrip("0")) or 1
    return 1 + math.ceil(digits / 2)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(str(name).encode()) + _value_size(value) for name, value in item.items())


def _plain(value: Any) -> Any:
    """A key attribute's plain value, typed or not."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TYPES:
        return next(iter(value.values()))
    return value


def item_kind(key: dict[str, Any]) -> str:
    sk = str(_plain(key.get("sk", "")))
    if sk == "JOB":
        return "job"
    if sk.startswith("CHUNK#"):
        return "chunk"
    if sk.startswith("R#"):
        return "recipient"
    return "other"  # e.g. idempotency records


class Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.invocations: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.cpu_seconds: defaultdict[str, float] = defaultdict(float)
        self.max_seconds: defaultdict[str, float] = defaultdict(float)
        self.records: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()  # "caller service Operation"
        self.wru: defaultdict[str, float] = defaultdict(float)  # "caller Operation kind"
        self.rru: defaultdict[str, float] = defaultdict(float)
        self.sizes: dict[str, int] = {}  # latest written size of each kind of item
        self.sequence = 0

    # ---- callers

    def caller(self) -> str:
        current = getattr(self.local, "function", None)
        if current:
            return str(current)
        name = threading.current_thread().name
        if name.startswith("bulksms"):
            return "SenderFunction"  # runtime.executor() threads; the sweeper does not run during a bench
        if name.startswith("poller-"):
            return "event-source"
        return "other"

    def invoked(self, function: str, seconds: float, cpu_seconds: float, event: dict[str, Any]) -> None:
        with self.lock:
            self.invocations[function] += 1
            self.seconds[function] += seconds
            self.cpu_seconds[function] += cpu_seconds
            self.max_seconds[function] = max(self.max_seconds[function], seconds)
            self.records[function] += len(event.get("Records", ())) if isinstance(event, dict) else 0

    # ---- AWS calls

    def aws_call(self, service: str, operation: str, params: dict[str, Any], result: Any) -> None:
        who = self.caller()
        with self.lock:
            self.calls[f"{who} {service} {operation}"] += 1
            if service == "sqs" and operation == "ReceiveMessage":
                got = len((result or {}).get("Messages", []))
                self.calls[f"{who} sqs ReceiveMessage(non-empty)"] += 1 if got else 0
                self.calls[f"{who} sqs MessagesReceived"] += got
            if service == "sqs" and operation == "SendMessageBatch":
                self.calls[f"{who} sqs MessagesSent"] += len(params.get("Entries", []))
            if service == "dynamodb":
                self._capacity(who, operation, params, result)

    def _write(self, who: str, operation: str, kind: str, size: int, factor: float = 1.0) -> None:
        self.wru[f"{who} {operation} {kind}"] += factor * max(1, math.ceil(size / _WRITE_UNIT))

    def _read(self, who: str, operation: str, kind: str, size: int, consistent: bool) -> None:
        units = max(1, math.ceil(size / _READ_UNIT)) * (1.0 if consistent else 0.5)
        self.rru[f"{who} {operation} {kind}"] += units

    def _known_size(self, kind: str) -> int:
        return self.sizes.get(kind, _WRITE_UNIT)

    def _capacity(self, who: str, operation: str, params: dict[str, Any], result: Any) -> None:
        result = result or {}
        if operation == "PutItem":
            kind = item_kind(params["Item"])
            self.sizes[kind] = size = item_size(params["Item"])
            self._write(who, operation, kind, size)
        elif operation == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        kind = item_kind(item)
                        self.sizes[kind] = size = item_size(item)
                        self._write(who, operation, kind, size)
                    else:
                        kind = item_kind(request["DeleteRequest"]["Key"])
                        self._write(who, operation, kind, self._known_size(kind))
        elif operation in ("UpdateItem", "DeleteItem"):
            kind = item_kind(params["Key"])
            self._write(who, operation, kind, self._known_size(kind))
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((action, body),) = entry.items()
                if action == "Put":
                    kind = item_kind(body["Item"])
                    size = item_size(body["Item"])
                else:
                    kind = item_kind(body["Key"])
                    size = self._known_size(kind)
                self._write(who, f"{operation}.{action}", kind, size, factor=2.0)
        elif operation == "GetItem":
            kind = item_kind(params["Key"])
            item = result.get("Item")
            size = self._seen(kind, item) if item else 1
            self._read(who, operation, kind, size, bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                consistent = bool(request.get("ConsistentRead"))
                for item in result.get("Responses", {}).get(table, []):
                    kind = item_kind(item)
                    self._read(who, operation, kind, self._seen(kind, item), consistent)
        elif operation in ("Query", "Scan"):
            items = result.get("Items", [])
            size = sum(item_size(item) for item in items)
            kind = item_kind(items[0]) if items else "none"
            self._read(who, operation, kind, size, bool(params.get("ConsistentRead")))

    def _seen(self, kind: str, item: dict[str, Any]) -> int:
        """An item read back: its size is the best estimate for the next update of that kind (a job
        item grows as its chunks settle)."""
        self.sizes[kind] = size = item_size(item)
        return size

    # ---- snapshots

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self.sequence += 1
            return {
                "sequence": self.sequence,
                "time": time.time(),
                "invocations": dict(self.invocations),
                "seconds": dict(self.seconds),
                "cpu_seconds": dict(self.cpu_seconds),
                "max_seconds": dict(self.max_seconds),
                "records": dict(self.records),
                "calls": dict(self.calls),
                "wru": dict(self.wru),
                "rru": dict(self.rru),
                "sizes": dict(self.sizes),
            }

    def write(self, path: Path) -> None:
        data = json.dumps(self.snapshot())
        temporary = path.with_suffix(".tmp")
        temporary.write_text(data)
        temporary.replace(path)


PROBE = Probe()


def install() -> None:
    """Wrap the handler loader (before local.stack and local.gateway import it) and botocore's calls."""
    from botocore.client import BaseClient

    import local.functions

    original_load = local.functions.load_handler
    wrapped: dict[str, Any] = {}

    def load_handler(function: Any) -> Any:
        name = function.logical_id
        if name not in wrapped:
            handler = original_load(function)

            def timed(event: dict[str, Any], context: Any) -> Any:
                # API requests are told apart by method: the bench's status polls are GETs.
                method = event.get("httpMethod") if isinstance(event, dict) else None
                caller = f"{name}:{method}" if method else name
                PROBE.local.function = caller
                start, cpu = time.perf_counter(), time.thread_time()
                try:
                    return handler(event, context)
                finally:
                    PROBE.invoked(caller, time.perf_counter() - start, time.thread_time() - cpu, event)
                    PROBE.local.function = None

            wrapped[name] = timed
        return wrapped[name]

    local.functions.load_handler = load_handler
    _count_sender_worker_cpu()
    original_call = BaseClient._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        result = None
        try:
            result = original_call(self, operation_name, api_params)
            return result
        finally:
            PROBE.aws_call(self.meta.service_model.service_name, operation_name, api_params, result)

    BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]


def _count_sender_worker_cpu() -> None:
    """The sender sends a message's chunks on worker threads: their CPU is the sender's too."""
    from bulksms.service.sending import Sender

    original = Sender._send_chunk

    def send_chunk(self: Any, *args: Any, **kwargs: Any) -> Any:
        cpu = time.thread_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            with PROBE.lock:
                PROBE.cpu_seconds["SenderFunction"] += time.thread_time() - cpu

    Sender._send_chunk = send_chunk  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    stats_file = Path(os.environ["BENCH_STATS_FILE"])
    install()
    import local.run  # after install(): local.stack and local.gateway bind the wrapped loader

    def on_usr1(signum: int, frame: FrameType | None) -> None:
        PROBE.write(stats_file)

    signal.signal(signal.SIGUSR1, on_usr1)
    return local.run.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
