"""Start a scheduled job when its schedule puts the start message on the send queue."""

from __future__ import annotations

import time
from datetime import datetime

from aws_lambda_powertools import Logger

from bulksms.domain.chunks import group_indexes
from bulksms.domain.job import Job
from bulksms.domain.ports import JobStore, SendQueue, StartScheduler
from bulksms.domain.status import JobStatus

logger = Logger(child=True)


def start_job(store: JobStore, queue: SendQueue, job_id: str, chunks_per_message: int) -> str:
    """Queue a scheduled job's chunks once its `send_at` has come. Returns what was done.

    Safe to repeat (SQS delivers at least once): the status moves `scheduled` -> `queued` once, and a
    chunk queued twice is still sent once (its claim). A job that was cancelled meanwhile is left alone.
    """
    job = store.get_job(job_id)
    if (
        job is None
        or job.stop
        or job.send_at is None
        or job.status not in (JobStatus.SCHEDULED, JobStatus.QUEUED)
    ):
        return "ignored"
    early_s = datetime.fromisoformat(job.send_at.replace("Z", "+00:00")).timestamp() - time.time()
    if early_s > 0:
        # The scheduler fires within the minute of its expression, which may be before send_at.
        queue.enqueue_start(job_id, delay_s=early_s)
        return "delayed"
    if job.status is JobStatus.SCHEDULED and not store.start_scheduled(job_id):
        return "ignored"  # cancelled, or started by a concurrent delivery of this message
    # Also when already `queued`: an earlier delivery may have failed before it queued every group.
    queue.enqueue(job_id, group_indexes(job.chunk_count, chunks_per_message))
    logger.info("scheduled job started", extra={"job_id": job_id, "send_at": job.send_at})
    return "started"


def unschedule(scheduler: StartScheduler, queue: SendQueue, job: Job, chunks_per_message: int) -> None:
    """After a scheduled job's stop: delete its schedule, and queue its chunks so that the sender
    settles them with the stop at once (they had no queue messages yet); none of them is sent."""
    scheduler.cancel(job.job_id)
    queue.enqueue(job.job_id, group_indexes(job.chunk_count, chunks_per_message))
