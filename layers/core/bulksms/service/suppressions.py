"""The suppression list: numbers never sent to by any job created after they were added.

Entries come from the API (`source: api`), from STOP replies (`keyword`) and from Clickatell saying a
number opted out (`provider`). Numbers are normalised exactly like recipients.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.domain.numbers import parse_recipients
from bulksms.domain.optout import SuppressionSource
from bulksms.domain.ports import SUPPRESSION_READ_BATCH, SUPPRESSION_SHARDS, Entry, SuppressionStore
from bulksms.service.errors import NotFound, RequestError

logger = Logger(child=True)

API_REASON = "added through the API"
KEYWORD_REASON = "replied {word}"
REJECTED_LISTED = 1000
_VIEW_FIELDS = ("number", "reason", "source", "created_at", "updated_at")
# A job of more numbers than this reads the whole list rather than its numbers: one Query per shard
# is fewer calls than BatchGetItem of 100 numbers at a time, and far fewer read units...
LIST_READ_MIN = SUPPRESSION_SHARDS * SUPPRESSION_READ_BATCH
# ...as long as the list is at most this many times the job; a huge list is never read for a small job.
LIST_READ_FACTOR = 4


def normalised(raw: str, field: str = "number") -> str:
    """One number, normalised like a recipient; 400 naming the field when it is not a valid number."""
    parsed = parse_recipients([raw])
    if not parsed.accepted:
        raise RequestError(field, f"{raw!r}: {parsed.rejected[0].reason}")
    return parsed.accepted[0]


def entry_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: item.get(name) for name in _VIEW_FIELDS}


class SuppressionList:
    def __init__(self, store: SuppressionStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor

    # ---- the API --------------------------------------------------------------------------------

    def add(self, raw: str, reason: str | None) -> dict[str, Any]:
        number = normalised(raw)
        return entry_view(self._store.put(Entry(number, reason or API_REASON, SuppressionSource.API.value)))

    def add_many(self, raw: Sequence[str], reason: str | None) -> dict[str, Any]:
        parsed = parse_recipients(raw)
        entry_reason = reason or API_REASON
        self._store.put_many(Entry(n, entry_reason, SuppressionSource.API.value) for n in parsed.accepted)
        logger.info("suppressions added", extra={"added": len(parsed.accepted), "source": "api"})
        return {
            "added": len(parsed.accepted),
            "duplicates_removed": parsed.duplicates_removed,
            "rejected": [{"to": r.to, "reason": r.reason} for r in parsed.rejected[:REJECTED_LISTED]],
            "rejected_count": len(parsed.rejected),
        }

    def get(self, raw: str) -> dict[str, Any]:
        item = self._store.get(normalised(raw))
        if item is None:
            raise NotFound("suppression")
        return entry_view(item)

    def remove(self, raw: str) -> dict[str, Any]:
        removed = self._store.delete(normalised(raw))
        if removed is None:
            raise NotFound("suppression")
        return entry_view(removed)

    def page(self, limit: int, token: str | None) -> dict[str, Any]:
        page = self._store.page(limit=limit, token=token)
        return {"items": [entry_view(item) for item in page.items], "next_token": page.next_token}

    # ---- sending ----------------------------------------------------------------------------------

    def check(self, expected: int) -> Check:
        """Start the check for a job of about `expected` numbers before they are validated: for a large
        job the list's shards are read in the background meanwhile, overlapping the validation's CPU."""
        budget = -(-LIST_READ_FACTOR * expected // SUPPRESSION_SHARDS)
        shards = (
            [
                self._executor.submit(self._store.read_shard, shard, budget)
                for shard in range(SUPPRESSION_SHARDS)
            ]
            if expected > LIST_READ_MIN
            else []
        )
        return Check(self._store, self._executor, shards)

    # ---- replies and the provider -----------------------------------------------------------------

    def suppress_from_keyword(self, number: str, word: str) -> bool:
        """A STOP reply. An entry that is already there keeps its reason and source."""
        entry = Entry(number, KEYWORD_REASON.format(word=word), SuppressionSource.KEYWORD.value)
        return self._store.add_if_absent(entry)

    def lift_keyword(self, number: str) -> bool:
        """A START reply lifts only what a keyword put there, never an entry of the API or the provider."""
        return self._store.delete(number, only_source=SuppressionSource.KEYWORD.value) is not None

    def suppress_from_provider(self, numbers: Iterable[str], reason: str) -> int:
        """Clickatell refused these numbers as opted out (the provider's per-number error: legacy
        `ERR: 122`, One API error 26; neither API has a delivery status that means it). An entry that
        is already there keeps its reason and source."""
        source = SuppressionSource.PROVIDER.value
        added = sum(self._store.add_if_absent(Entry(number, reason, source)) for number in numbers)
        if added:
            logger.info("numbers opted out at the provider suppressed", extra={"added": added})
        return added


@dataclass(frozen=True, slots=True)
class Check:
    """A suppression check under way (see `SuppressionList.check`). Reads are strongly consistent:
    an entry written before the check started is seen."""

    store: SuppressionStore
    executor: Executor
    shards: list[Future[list[str] | None]]  # the whole list being read, or [] to read by number

    def split(self, numbers: Sequence[str]) -> tuple[list[str], int]:
        """The numbers that may be sent to (order kept), and how many were suppressed."""
        read = [shard.result() for shard in self.shards]
        if read and all(shard is not None for shard in read):
            wanted = set(numbers)
            suppressed = {number for shard in read if shard for number in shard if number in wanted}
        else:  # a small job, or a list too large to read whole
            suppressed = self.store.listed(numbers, self.executor)
        if not suppressed:
            return list(numbers), 0
        return [n for n in numbers if n not in suppressed], len(suppressed)
