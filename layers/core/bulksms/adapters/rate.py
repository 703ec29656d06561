"""MaxSendRate: one budget of recipients per second toward Clickatell, shared by every sender of the
deployment through one DynamoDB item.

The item holds a GCRA "theoretical arrival time" (`tat`, epoch milliseconds): the moment the budget
granted so far is used up. A sender about to POST n numbers books the slot [max(tat, now),
+ n / rate) with a conditional write (the write only succeeds if `tat` is still what it read, so two
senders can never book the same slot), claims its chunk, and sleeps until the slot starts just before
the POST (so the claim's own time does not move the POST off its slot). Slots follow each
other without gaps or overlap, so over any window of T seconds at most rate x T + one chunk go out,
however many senders, threads and jobs run at once. A sender whose slot would start more than
`max_wait_s` from now books nothing and hands its chunk back to the queue instead (see
service.pacing), to return when the budget has room; so does one that keeps losing the race for the
item to other senders.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.domain.ports import Slot
from bulksms.domain.retry import RetryPolicy

RATE_KEY = {"pk": "RATE#clickatell", "sk": "RATE"}
# Another sender booked first (a failed condition, which botocore does not retry): back off a little,
# jittered, so the contenders spread.
_CONFLICT_RETRY = RetryPolicy(attempts=20, base_s=0.002, cap_s=0.1, budget_s=1.0)


class SharedTokenBucket:
    """A `SendRate` (domain/ports.py): the cap shared through the table."""

    def __init__(
        self,
        table_name: str,
        rate_per_s: float,
        *,
        max_wait_s: float = 1.0,
        resource: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("a rate cap must be above 0")
        self._ms_per_recipient = 1000.0 / rate_per_s
        self._max_wait_ms = max_wait_s * 1000.0
        self._table = aws.LazyTable(table_name, resource)
        self._clock = clock
        self._sleep = sleep

    @property
    def table(self) -> Any:
        return self._table()

    def acquire(self, recipients: int) -> Slot:
        cost = max(1, round(recipients * self._ms_per_recipient))
        for _ in _CONFLICT_RETRY.tries(time.monotonic, time.sleep):
            booked = self._read()
            now = int(self._clock() * 1000)
            start = max(booked, now)
            if start - now > self._max_wait_ms:
                # Ask again when the slot would be within reach; the jitter spreads the senders
                # that were refused together.
                wait_ms = start - now - self._max_wait_ms + random.uniform(0, cost)  # noqa: S311
                return Slot(retry_after_s=wait_ms / 1000.0)
            if self._book(booked, start + cost):
                return Slot(start_ms=start)
        # So many senders at once that this one kept losing: it is as good as a spent budget.
        return Slot(retry_after_s=self._max_wait_ms / 1000.0 + random.uniform(0, 1.0))  # noqa: S311

    def wait(self, slot: Slot) -> None:
        if (ahead_ms := slot.start_ms - self._clock() * 1000) > 0:
            self._sleep(ahead_ms / 1000.0)

    def _read(self) -> int:
        item = self.table.get_item(Key=RATE_KEY, ConsistentRead=True).get("Item") or {}
        return int(item.get("tat", 0))

    def _book(self, expected: int, tat: int) -> bool:
        try:
            self.table.update_item(
                Key=RATE_KEY,
                UpdateExpression="SET tat = :tat",
                ConditionExpression="attribute_not_exists(tat) OR tat = :expected",
                ExpressionAttributeValues={":tat": Decimal(tat), ":expected": Decimal(expected)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
