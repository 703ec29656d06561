"""The typed job: the final-status rule, and counts that always add up to the total."""

from __future__ import annotations

from collections import Counter

import pytest
from bulksms.domain.counts import StatusChange, counts_updates
from bulksms.domain.job import UNFINISHED_JOB_STATUSES, Chunk, ChunkState, Counts, Job, Stop, final_status
from bulksms.domain.message import Encoding, Message
from bulksms.domain.status import FINAL_JOB_STATUSES, JobStatus, RecipientStatus
from hypothesis import given
from hypothesis import strategies as st

S = RecipientStatus
stops = st.one_of(
    st.none(),
    st.builds(
        Stop,
        st.sampled_from([JobStatus.CANCELLED, JobStatus.FAILED]),
        st.text(max_size=3),
        st.text(max_size=3),
    ),
)


def job(status: JobStatus, counts: Counts, stop: Stop | None = None) -> Job:
    return Job("j", status, "2026-01-01T00:00:00Z", Message(Encoding.GSM7, "hi", 1), counts, 1, stop=stop)


@given(
    status=st.sampled_from(JobStatus),
    stop=stops,
    queued=st.integers(0, 3),
    others=st.dictionaries(st.sampled_from([s for s in S if s is not S.QUEUED]), st.integers(0, 5)),
)
def test_a_job_ends_once_nothing_is_queued_with_its_stops_outcome_or_completed(
    status: JobStatus, stop: Stop | None, queued: int, others: dict[RecipientStatus, int]
) -> None:
    counts = Counts.of(queued + sum(others.values()), {S.QUEUED: queued, **others})
    final = final_status(job(status, counts, stop))
    if status in FINAL_JOB_STATUSES or queued:
        assert final is None
    else:
        assert final is (stop.outcome if stop else JobStatus.COMPLETED)
        assert final in FINAL_JOB_STATUSES


# A recipient's life: its first result (from `queued`), then reports that only move it up the ladder.
LIVES = st.sampled_from(
    [
        (),
        (S.SUBMITTED,),
        (S.SUBMITTED, S.DELIVERED),
        (S.SUBMITTED, S.FAILED),
        (S.SUBMITTED, S.EXPIRED),
        (S.UNKNOWN,),
        (S.UNKNOWN, S.DELIVERED),
        (S.FAILED,),
        (S.CANCELLED,),
    ]
)


@given(lives=st.lists(LIVES, max_size=20), batch=st.integers(1, 10), data=st.data())
def test_counts_from_any_batching_of_the_changes_add_up_to_the_recipients_statuses(
    lives: list[tuple[RecipientStatus, ...]], batch: int, data: st.DataObject
) -> None:
    # Recipients interleaved, each one's changes in its order, as one partition's stream has them.
    pending = {i: list(zip((None, *life), life, strict=False)) for i, life in enumerate(lives) if life}
    stream: list[StatusChange] = []
    while pending:
        recipient = data.draw(st.sampled_from(sorted(pending)))
        old, new = pending[recipient].pop(0)
        stream.append(StatusChange("j", "R00", len(stream) + 1, old, new))
        if not pending[recipient]:
            del pending[recipient]
    counts, applied = Counts.all_queued(len(lives)), dict[str, int]()
    for start in range(0, len(stream), batch):
        for _delivery in range(2):  # every batch comes twice: the second counts nothing
            update = counts_updates(stream[start : start + batch], {"j": applied}).get("j")
            if update:
                counts = counts.moved(update.moves)
                applied = {**applied, **update.applied}
    assert sum(counts.by_status.values()) == counts.total == len(lives)
    assert all(n >= 0 for n in counts.by_status.values())
    expected = Counter(life[-1] if life else S.QUEUED for life in lives)
    assert counts == Counts.of(len(lives), expected)


def test_counts_read_as_the_public_counts_object() -> None:
    counts = Counts.all_queued(3).moved({S.QUEUED: -1, S.DELIVERED: 1})
    assert counts.as_dict() == {
        "total": 3,
        "queued": 2,
        "submitted": 0,
        "delivered": 1,
        "failed": 0,
        "expired": 0,
        "unknown": 0,
        "cancelled": 0,
    }
    assert counts.queued == 2


def test_a_stop_ends_a_job_cancelled_or_failed_only() -> None:
    assert Stop.failed("301", "No Credit Left").recipient_status is S.FAILED
    assert Stop(JobStatus.CANCELLED, "CANCELLED", "by request").recipient_status is S.CANCELLED
    for outcome in UNFINISHED_JOB_STATUSES | {JobStatus.COMPLETED}:
        with pytest.raises(ValueError, match="a stop ends a job"):
            Stop(outcome, "x", "y")


def test_only_a_claim_has_a_lease_to_expire() -> None:
    claimed = Chunk("j", 0, ChunkState.CLAIMED, ("1",), lease_until=100)
    assert claimed.lease_expired(101) and not claimed.lease_expired(100)
    assert not Chunk("j", 0, ChunkState.PENDING, ("1",)).lease_expired(10**12)
    assert not Chunk("j", 0, ChunkState.DONE, ("1",), lease_until=1).lease_expired(10**12)
