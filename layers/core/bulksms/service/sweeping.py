"""Find work that nobody will finish and finish it, so no job stays `sending` forever."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.queue import SendQueue
from bulksms.adapters.store import Store
from bulksms.service.jobs import (
    Stop,
    age_seconds,
    lease_expired,
    requeue_pending,
    settle_abandoned,
    settle_pending,
)

logger = Logger(child=True)


def sweep(
    store: Store,
    queue: SendQueue,
    executor: Executor,
    *,
    requeue_after_s: int,
    chunks_per_message: int,
    on_finished: Callable[[Mapping[str, Any]], None] = lambda job: None,
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
            if lease_expired(chunk, now):
                settle_abandoned(store, job, chunk)
                tally["abandoned_claims"] += 1
        if job.get("stop"):
            tally["stopped_chunks"] += settle_pending(store, executor, job_id, Stop.from_item(job["stop"]))
        elif age_seconds(job.get("updated_at") or job["created_at"], now) > requeue_after_s and (
            requeued := requeue_pending(queue, job_id, chunks, chunks_per_message)
        ):
            tally["requeued_chunks"] += requeued
            logger.warning("stalled job requeued", extra={"job_id": job_id, "chunks": requeued})
        if finished := store.finish_if_done(job_id):
            on_finished(finished)
            tally["finished_jobs"] += 1
    return tally
