"""MaxSendRate: one budget of recipients per second toward Clickatell, shared by every sender of the
deployment through one DynamoDB item.

The item holds a GCRA "theoretical arrival time" (`tat`, epoch milliseconds): the moment the budget
granted so far is used up. A sender about to POST n numbers books the slot [max(tat, now),
+ n / rate) with a conditional write (the write only succeeds if `tat` is still what it read, so two
senders can never book the same slot), sleeps until the slot starts and sends. Slots follow each
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
from typing import Any, Protocol

from botocore.exceptions import ClientError

from bulksms.adapters import aws

RATE_KEY = {"pk": "RATE#clickatell", "sk": "RATE"}
_CONFLICT_ATTEMPTS = 20


class SendRate(Protocol):
    def acquire(self, recipients: int) -> float:
        """0 once `recipients` may be sent now; else seconds after which to ask again."""
        ...


class NoCap:
    """MaxSendRate 0: only the concurrency parameters bound the rate."""

    def acquire(self, recipients: int) -> float:
        return 0.0


class SharedTokenBucket:
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
        self._table_name = table_name
        self._ms_per_recipient = 1000.0 / rate_per_s
        self._max_wait_ms = max_wait_s * 1000.0
        self._resource = resource
        self._clock = clock
        self._sleep = sleep

    @property
    def table(self) -> Any:
        return (self._resource or aws.dynamodb()).Table(self._table_name)

    def acquire(self, recipients: int) -> float:
        cost = max(1, round(recipients * self._ms_per_recipient))
        booked = self._read()
        for attempt in range(_CONFLICT_ATTEMPTS):
            now = int(self._clock() * 1000)
            start = max(booked, now)
            if start - now > self._max_wait_ms:
                # Ask again when the slot would be within reach; the jitter spreads the senders
                # that were refused together.
                wait_ms = start - now - self._max_wait_ms + random.uniform(0, cost)  # noqa: S311
                return wait_ms / 1000.0
            if self._book(booked, start + cost):
                if start > now:
                    self._sleep((start - now) / 1000.0)
                return 0.0
            # Another sender booked first: back off a little (jittered) so the contenders spread.
            time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))  # noqa: S311
            booked = self._read()
        # So many senders at once that this one kept losing: it is as good as a spent budget.
        return self._max_wait_ms / 1000.0 + random.uniform(0, 1.0)  # noqa: S311

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
