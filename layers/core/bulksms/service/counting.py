"""Keep each job's counts from its recipients' status changes (the table's stream), and finish the job
when none is queued any more: the one place a job's end is decided once sending started."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.store import Store
from bulksms.domain.counts import StatusChange, counts_updates

logger = Logger(child=True)

# A guard fails only when another delivery of the same changes got there first: re-read and redo.
_GUARD_ATTEMPTS = 5


def apply_changes(
    store: Store, changes: Sequence[StatusChange], on_finished: Callable[[Mapping[str, Any]], None]
) -> Counter[str]:
    """Apply one batch of changes: one guarded update per job, then finish the jobs it completed."""
    tally: Counter[str] = Counter()
    pending = sorted({change.job_id for change in changes})
    for _ in range(_GUARD_ATTEMPTS):
        if not pending:
            return tally
        applied = store.applied_sequences(pending)
        tally["gone_jobs"] += len(set(pending) - set(applied))
        known = [change for change in changes if change.job_id in applied]
        updates = counts_updates(known, applied)
        conflicted = []
        for job_id in applied:
            update = updates.get(job_id)
            if update is None or not update.changes_anything:
                # Every change was applied already (a redelivered batch): the job may still be
                # waiting for the finish that delivery did not reach.
                finished = store.finish_if_done(job_id)
            else:
                covered = {p: applied[job_id][p] for p in update.applied if p in applied[job_id]}
                job = store.apply_counts(update, covered)
                if job is None:
                    conflicted.append(job_id)
                    continue
                tally["jobs_updated"] += 1
                finished = store.finish_counted(job)
            if finished:
                tally["jobs_finished"] += 1
                on_finished(finished)
        pending = conflicted
    raise RuntimeError(f"counts of {len(pending)} jobs kept changing under this batch; it will come again")
