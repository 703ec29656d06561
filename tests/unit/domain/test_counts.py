"""Job counts from recipient changes: exact however the changes are batched, redelivered or overlapped.

The property test plays a job's life: send results and delivery reports written in any order (each a
change in its recipient partition, as the table's stream carries them), then the stream delivered in
batches of any size, some delivered again (a crash between the write and the acknowledgement, a retry
from a checkpoint, a bisected half). Counts are never negative, always sum to the total, and end equal
to a recount of the recipients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from bulksms.domain.counts import CountsUpdate, StatusChange, counts_updates
from bulksms.domain.status import RecipientStatus, can_move
from hypothesis import given, settings
from hypothesis import strategies as st

S = RecipientStatus
JOB = "job"
SENT = [S.SUBMITTED, S.FAILED, S.UNKNOWN, S.CANCELLED]
REPORTED = [S.SUBMITTED, S.DELIVERED, S.FAILED, S.EXPIRED]


def recount(total: int, statuses: Iterable[RecipientStatus]) -> Counter[RecipientStatus]:
    """A job's counts from its recipients' current statuses: what the aggregated counts must equal."""
    counts: Counter[RecipientStatus] = Counter(statuses)
    counts[S.QUEUED] += total - sum(counts.values())
    return +counts


class JobItem:
    """The job item as the store keeps it: counters and the sequences applied, under the same guard."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.counts: Counter[RecipientStatus] = Counter({S.QUEUED: total})
        self.charge = Decimal(0)
        self.applied: dict[str, int] = {}

    def apply(self, update: CountsUpdate, expected: dict[str, int]) -> bool:
        if any(self.applied.get(p) != expected.get(p) for p in update.applied):
            return False  # the conditional write's guard
        self.counts.update(update.moves)
        self.charge += update.charge
        self.applied.update(update.applied)
        return True

    def deliver(self, batch: list[StatusChange]) -> None:
        update = counts_updates(batch, {JOB: dict(self.applied)}).get(JOB)
        if update is not None and update.changes_anything:
            expected = {p: self.applied[p] for p in update.applied if p in self.applied}
            assert self.apply(update, expected)
        assert all(n >= 0 for n in self.counts.values()), self.counts
        assert sum(self.counts.values()) == self.total


@st.composite
def job_lives(draw: st.DrawFn) -> tuple[int, list[StatusChange], dict[int, RecipientStatus], Decimal]:
    """A job's writes in the order the table stored them, with the final status of each recipient."""
    total = draw(st.integers(1, 25))
    partitions = draw(st.integers(1, 4))
    status: dict[int, RecipientStatus] = {}
    charge: dict[int, Decimal] = {}
    changes: list[StatusChange] = []
    for sequence in range(draw(st.integers(0, 80))):
        who = draw(st.integers(0, total - 1))
        old = status.get(who)
        if old is None or (draw(st.booleans()) and old in SENT):
            new = draw(st.sampled_from(SENT)) if old is None else old  # a result, or its retried write
            grew = Decimal(0)
        else:
            new = draw(st.sampled_from(REPORTED))
            if not can_move(old, new):
                continue  # the report's conditional write changes nothing: no stream record
            grew = Decimal(draw(st.sampled_from(["0.3", "1", "2.5"])))
        status[who] = new
        charge[who] = charge.get(who, Decimal(0)) + grew
        changes.append(StatusChange(JOB, f"R{who % partitions:02d}", sequence, old, new, grew))
    return total, changes, status, sum(charge.values(), Decimal(0))


@st.composite
def deliveries(draw: st.DrawFn, count: int) -> list[tuple[int, int]]:
    """Batches [start, end) over the stream in order, with redeliveries of what came before."""
    batches: list[tuple[int, int]] = []
    start = 0
    while start < count:
        end = draw(st.integers(start + 1, count))
        batches.append((start, end))
        redelivery = draw(st.sampled_from(["none", "same", "from checkpoint", "first half", "second half"]))
        if redelivery == "same":  # crashed after the write, before the acknowledgement
            batches.append((start, end))
        elif redelivery == "from checkpoint":  # retried from a record inside it, with newer records
            batches.append((draw(st.integers(start, end - 1)), draw(st.integers(end, count))))
        elif redelivery == "first half":  # bisected after a failure
            batches.append((start, start + max(1, (end - start) // 2)))
        elif redelivery == "second half":
            batches.append((start + (end - start) // 2, end))
        start = end
    return batches


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_counts_end_exact_whatever_the_batching_and_redelivery(data: st.DataObject) -> None:
    total, changes, final, charge = data.draw(job_lives())
    job = JobItem(total)
    for start, end in data.draw(deliveries(len(changes))):
        job.deliver(changes[start:end])
    assert +job.counts == recount(total, final.values())
    assert job.charge == charge


def test_one_update_per_job_sums_a_batch() -> None:
    changes = [
        StatusChange("a", "R00", 1, None, S.SUBMITTED),
        StatusChange("a", "R01", 2, None, S.SUBMITTED),
        StatusChange("b", "R00", 3, None, S.FAILED),
        StatusChange("a", "R00", 4, S.SUBMITTED, S.DELIVERED, Decimal("0.3")),
    ]
    updates = counts_updates(changes, {})
    assert set(updates) == {"a", "b"}
    assert +updates["a"].moves == Counter({S.SUBMITTED: 1, S.DELIVERED: 1})
    assert updates["a"].moves[S.QUEUED] == -2
    assert updates["a"].applied == {"R00": 4, "R01": 2} and updates["a"].charge == Decimal("0.3")
    assert updates["b"].moves == Counter({S.QUEUED: -1, S.FAILED: 1})


def test_changes_a_job_applied_already_are_left_out() -> None:
    changes = [StatusChange("a", "R00", n, None, S.SUBMITTED) for n in (5, 6, 7)]
    update = counts_updates(changes, {"a": {"R00": 6}})["a"]
    assert update.moves == Counter({S.QUEUED: -1, S.SUBMITTED: 1}) and update.applied == {"R00": 7}
    assert counts_updates(changes, {"a": {"R00": 7}}) == {}


def test_a_rewrite_with_the_same_status_moves_nothing() -> None:
    update = counts_updates([StatusChange("a", "R03", 9, S.SUBMITTED, S.SUBMITTED)], {})["a"]
    assert not update.changes_anything and update.applied == {"R03": 9}
