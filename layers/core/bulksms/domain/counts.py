"""Job counts from recipients' status changes, applied exactly once however often a batch comes again.

Every recipient write (a send result, a delivery report, a cancel) is one change of that recipient's
status, in the order the table stored it. A job's counts start with every number `queued`; each change
moves one number from its old status to its new one. Summing a batch of changes per job gives one
update per job, whatever the number of reports.

Redelivered or overlapping batches: changes of one recipient partition reach us in their storage order,
each with a sequence number that grows within the partition. A job remembers, per partition, the highest
sequence it has applied; a change at or below it was applied already and is skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bulksms.domain.status import RecipientStatus


@dataclass(frozen=True, slots=True)
class StatusChange:
    job_id: str
    partition: str  # the recipient partition the change was stored in: one order of changes
    sequence: int
    old: RecipientStatus | None  # None: the recipient's first result, so it was `queued`
    new: RecipientStatus
    charge: Decimal = Decimal(0)  # how much the reported charge grew


@dataclass(slots=True)
class CountsUpdate:
    """What one batch adds to one job: status moves, charge, and the sequences it covers."""

    job_id: str
    moves: Counter[RecipientStatus] = field(default_factory=Counter)
    charge: Decimal = Decimal(0)
    applied: dict[str, int] = field(default_factory=dict)  # partition -> highest sequence

    @property
    def changes_anything(self) -> bool:
        return any(self.moves.values()) or bool(self.charge)


def counts_updates(
    changes: Iterable[StatusChange], applied: Mapping[str, Mapping[str, int]]
) -> dict[str, CountsUpdate]:
    """One update per job from a batch of changes, leaving out those each job has applied already.

    `applied` gives, per job, the highest sequence already applied per partition.
    """
    updates: dict[str, CountsUpdate] = {}
    for change in changes:
        done = applied.get(change.job_id, {}).get(change.partition, -1)
        if change.sequence <= done:
            continue
        update = updates.setdefault(change.job_id, CountsUpdate(change.job_id))
        old = change.old or RecipientStatus.QUEUED
        if old is not change.new:
            update.moves[old] -= 1
            update.moves[change.new] += 1
        update.charge += change.charge
        update.applied[change.partition] = max(update.applied.get(change.partition, -1), change.sequence)
    return updates
