"""Keep each job's counts from its recipients' status changes (the table's stream), and finish the job
(service.lifecycle) when none is queued any more: once sending started, this is where jobs end."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from aws_lambda_powertools import Logger

from bulksms.domain.counts import StatusChange, counts_updates
from bulksms.domain.ports import JobStore
from bulksms.domain.retry import RetryPolicy
from bulksms.service.lifecycle import OnFinished, finish_if_done, finish_stored_if_done

logger = Logger(child=True)

# A guard fails only when another delivery of the same changes got there first: re-read and redo. A
# failed condition is not an error to botocore, so nothing else retries it.
_GUARD_RETRY = RetryPolicy(attempts=5, base_s=0.01, cap_s=0.1)


def apply_changes(store: JobStore, changes: Sequence[StatusChange], on_finished: OnFinished) -> Counter[str]:
    """Apply one batch of changes: one guarded update per job, then finish the jobs it completed."""
    tally: Counter[str] = Counter()
    pending = sorted({change.job_id for change in changes})
    if not pending:
        return tally
    for _ in _GUARD_RETRY.tries(time.monotonic, time.sleep):
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
                finished = finish_stored_if_done(store, job_id, on_finished)
            else:
                covered = {p: applied[job_id][p] for p in update.applied if p in applied[job_id]}
                job = store.apply_counts(update, covered)
                if job is None:
                    conflicted.append(job_id)
                    continue
                tally["jobs_updated"] += 1
                finished = finish_if_done(store, job, on_finished)
            if finished:
                tally["jobs_finished"] += 1
        pending = conflicted
        if not pending:
            return tally
    raise RuntimeError(f"counts of {len(pending)} jobs kept changing under this batch; it will come again")
