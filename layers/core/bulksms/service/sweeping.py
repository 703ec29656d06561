"""Find work that nobody will finish and finish it, so no job stays `sending` forever."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Executor

from aws_lambda_powertools import Logger

from bulksms.domain.ports import JobStore, SendQueue
from bulksms.service.lifecycle import (
    OnFinished,
    age_seconds,
    finish_stored_if_done,
    requeue_pending,
    settle_abandoned,
    settle_pending,
)

logger = Logger(child=True)


def sweep(
    store: JobStore,
    queue: SendQueue,
    executor: Executor,
    *,
    requeue_after_s: int,
    chunks_per_message: int,
    on_finished: OnFinished = lambda job: None,
) -> Counter[str]:
    """One pass over the active jobs:
    - a claim whose lease expired is settled (stop claims as stopped, send claims as `unknown`);
    - a stopped job's pending chunks get the stop's outcome;
    - pending chunks of a job that made no progress for `requeue_after_s` are queued again (a claim
      is conditional, so a chunk queued twice is still sent once);
    - a job with nothing queued is finished.
    """
    now = time.time()
    tally: Counter[str] = Counter()
    for job_id in store.active_job_ids():
        job = store.get_job(job_id)
        if job is None:
            continue
        chunks = list(store.job_chunks(job_id))
        for chunk in chunks:
            if chunk.lease_expired(now):
                settle_abandoned(store, chunk)
                tally["abandoned_claims"] += 1
        if job.stop:
            tally["stopped_chunks"] += settle_pending(store, executor, job_id, job.stop)
        elif age_seconds(job.updated_at or job.created_at, now) > requeue_after_s and (
            requeued := requeue_pending(queue, job_id, chunks, chunks_per_message)
        ):
            tally["requeued_chunks"] += requeued
            logger.warning("stalled job requeued", extra={"job_id": job_id, "chunks": requeued})
        if finish_stored_if_done(store, job_id, on_finished):
            tally["finished_jobs"] += 1
    return tally
