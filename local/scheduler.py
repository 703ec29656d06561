"""The part of EventBridge Scheduler that moto leaves out: running the schedules.

moto stores schedules (CreateSchedule, GetSchedule, DeleteSchedule, ListSchedules) but never invokes
a target. `LocalScheduler` reads the group's schedules from moto and, once a one-time `at(...)`
schedule's time has come, does what the templated SQS target does: SendMessage of the target's
`Input` to the target queue. Then it applies ActionAfterCompletion (DELETE removes the schedule, as
AWS does after a one-time schedule's invocation). EventBridge Scheduler fires at some second of the
expression's minute; this one fires at its first second, the earliest AWS may.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("local.scheduler")


def at_time(expression: str) -> datetime | None:
    """The UTC time of an `at(yyyy-mm-ddThh:mm:ss)` expression; None for rate() and cron()."""
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    return datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)


class LocalScheduler:
    def __init__(self, scheduler: Any, sqs: Any, group: str, queue_urls: Mapping[str, str]) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self._group = group
        self._queue_urls = dict(queue_urls)  # target ARN -> queue URL
        self._fired: set[str] = set()  # one-time schedules kept after firing (ActionAfterCompletion NONE)
        self._lock = threading.Lock()
        self.invocations = 0

    def fire_due(self, now: datetime | None = None) -> int:
        """Invoke the target of every schedule whose time has come; returns how many fired."""
        now = now or datetime.now(UTC)
        fired = 0
        with self._lock:
            for summary in self._schedules():
                name = summary["Name"]
                if name in self._fired:
                    continue
                schedule = self._scheduler.get_schedule(Name=name, GroupName=self._group)
                when = at_time(schedule["ScheduleExpression"])
                if when is None:
                    log.warning("schedule %s: only one-time at() schedules run locally", name)
                    self._fired.add(name)
                    continue
                if schedule.get("ScheduleExpressionTimezone", "UTC") != "UTC":
                    raise ValueError(f"schedule {name}: only UTC schedules run locally")
                if when > now:
                    continue
                self._invoke(name, schedule["Target"])
                fired += 1
                if schedule.get("ActionAfterCompletion") == "DELETE":
                    self._scheduler.delete_schedule(Name=name, GroupName=self._group)
                else:
                    self._fired.add(name)
            self.invocations += fired
        return fired

    def _schedules(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"GroupName": self._group, "State": "ENABLED"}
        while True:
            page = self._scheduler.list_schedules(**kwargs)
            found.extend(page["Schedules"])
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def _invoke(self, name: str, target: Mapping[str, Any]) -> None:
        url = self._queue_urls.get(target["Arn"])
        if url is None:
            raise ValueError(f"schedule {name}: target {target['Arn']} is not a queue of the stack")
        self._sqs.send_message(QueueUrl=url, MessageBody=target.get("Input", ""))
        log.debug("schedule %s fired into %s", name, url)

    def run(self, stop: threading.Event, every_s: float = 1.0) -> None:
        while not stop.wait(every_s):
            try:
                self.fire_due()
            except Exception:
                log.exception("local scheduler pass failed")
