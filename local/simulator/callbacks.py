"""Delivery-status callbacks, pushed like Clickatell does, from a small fixed pool of worker threads.

One heap of due times is shared by the workers, so scheduling 600 callbacks costs 600 heap pushes and
never a thread. A message's callbacks form one job and are sent in order by one worker.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import urllib3

from local.simulator.model import Message
from local.simulator.one_api import callback_body
from local.simulator.options import Settings

INTERMEDIATE_STATUS = "003"
ERROR_STATUSES = frozenset({"005", "007", "009", "010", "012"})

StepKind = Literal["intermediate", "final", "duplicate"]


def callback_steps(
    level: int, final: str, duplicate: bool = False, out_of_order: bool = False
) -> list[tuple[str, StepKind]]:
    """Which statuses a message's `callback` level asks for (S2/S3 table), in the order they are sent.

    Bit 1: intermediate (003); bit 2: final statuses; bit 4: error statuses only.
    """
    steps: list[tuple[str, StepKind]] = []
    if level & 1:
        steps.append((INTERMEDIATE_STATUS, "intermediate"))
    if level & 2 or (level & 4 and final in ERROR_STATUSES):
        finals: list[tuple[str, StepKind]] = [(final, "final")]
        if duplicate:
            finals.append((final, "duplicate"))
        steps = finals + steps if out_of_order else steps + finals
    return steps


@dataclass(slots=True)
class CallbackJob:
    message: Message
    steps: list[tuple[str, StepKind]]
    attempt: int = 0
    generation: int = 0
    shape: str = "http"  # "one": pushed as the One API's JSON (local.simulator.one_api)


@dataclass(slots=True)
class _Counters:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    by_status: Counter[str] = field(default_factory=Counter)


class CallbackDispatcher:
    def __init__(
        self,
        api_id: str,
        settings: Callable[[], Settings],
        set_status: Callable[[str, str], None],
        workers: int = 4,
        queue_limit: int = 200_000,
    ) -> None:
        self._api_id = api_id
        self._settings = settings
        self._set_status = set_status
        self._queue_limit = queue_limit
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, CallbackJob]] = []
        self._seq = itertools.count()
        self._inflight = 0
        self._stopped = False
        self._generation = 0
        self._counters = _Counters()
        self._http = urllib3.PoolManager(num_pools=4, maxsize=workers, retries=False)
        self._threads = [
            threading.Thread(target=self._run, name=f"sim-callback-{i}", daemon=True) for i in range(workers)
        ]
        self._started = False

    def start(self) -> None:
        with self._cond:
            if self._started:
                return
            self._started = True
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._http.clear()

    def reset(self) -> None:
        """Forget pending callbacks and counters; jobs in flight are discarded by their generation."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._counters = _Counters()

    def schedule(self, jobs: Iterable[CallbackJob], delay_s: float) -> None:
        due = time.monotonic() + delay_s
        with self._cond:
            if self._stopped:
                return
            for job in jobs:
                if len(self._heap) >= self._queue_limit:
                    self._counters.dropped += 1
                    continue
                job.generation = self._generation
                heapq.heappush(self._heap, (due, next(self._seq), job))
            self._cond.notify_all()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            c = self._counters
            return {
                "callbacks_sent": c.sent,
                "callbacks_failed": c.failed,
                "callbacks_dropped": c.dropped,
                "callbacks_pending": len(self._heap) + self._inflight,
                "callbacks_by_status": dict(sorted(c.by_status.items())),
            }

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            job = heapq.heappop(self._heap)[2]
                            self._inflight += 1
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                self._work(job)
            finally:
                with self._cond:
                    self._inflight -= 1

    def _work(self, job: CallbackJob) -> None:
        settings = self._settings()
        while job.steps and not self._stopped:
            status, kind = job.steps[0]
            ok = settings.callback_url is not None and self._send(settings, job, status)
            with self._cond:
                if job.generation != self._generation:
                    return
                if ok:
                    self._counters.sent += 1
                    if kind == "final":
                        self._counters.by_status[status] += 1
                elif job.attempt < len(settings.callback_retry_delays_ms):
                    delay = settings.callback_retry_delays_ms[job.attempt] / 1000.0
                    job.attempt += 1
                    heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
                    self._cond.notify()
                    return
                else:
                    self._counters.failed += 1
            if ok and kind != "intermediate":
                self._set_status(job.message.api_msg_id, status)
            job.steps.pop(0)
            job.attempt = 0

    def _send(self, settings: Settings, job: CallbackJob, status: str) -> bool:
        message = job.message
        url = settings.callback_url or ""
        timeout = urllib3.Timeout(connect=settings.callback_timeout_s, read=settings.callback_timeout_s)
        if job.shape == "one":
            return self._deliver(
                "POST",
                url,
                callback_body(message, status, settings.one_api_callback_shape),
                {"Content-Type": "application/json"},
                timeout,
            )
        fields = {
            "api_id": self._api_id,
            "apiMsgId": message.api_msg_id,
            "cliMsgId": message.cli_msg_id,
            "timestamp": str(int(time.time())),
            "to": message.to,
            "from": message.sender,
            "status": status,
            "charge": f"{message.parts:.6f}",
        }
        encoded = urllib.parse.urlencode(fields)
        if settings.callback_method == "GET":
            joiner = "&" if urllib.parse.urlsplit(url).query else "?"
            return self._deliver("GET", url + joiner + encoded, None, {}, timeout)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._deliver("POST", url, encoded.encode("ascii"), form, timeout)

    def _deliver(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: urllib3.Timeout
    ) -> bool:
        try:
            response = self._http.request(method, url, body=body, headers=headers, timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError):
            return False
        return 200 <= response.status < 300
