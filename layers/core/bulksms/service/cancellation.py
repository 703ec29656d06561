"""Cancel a job: numbers not yet sent become `cancelled`; chunks in flight finish normally.

Cancelling only records the stop, so it answers at once whatever the job's size: the pending chunks
are settled in the background (the sender meets them in their queue messages, the sweeper otherwise),
and the counts show it as it happens.
"""

from __future__ import annotations

from collections.abc import Callable

from bulksms.domain.job import Job, Stop
from bulksms.domain.ports import JobStore
from bulksms.domain.status import JobStatus
from bulksms.service.errors import NotFound, RequestError
from bulksms.service.lifecycle import request_stop

CANCELLED_CODE = "CANCELLED"
CANCELLED_REASON = "cancelled by request before it was sent"


def cancel(
    store: JobStore, job_id: str, *, unschedule: Callable[[Job], None] = lambda job: None
) -> tuple[Job, bool]:
    """Returns the job after recording the stop, and whether numbers are still left to settle.

    Idempotent: cancelling a cancelled (or cancelling) job answers the same way. A scheduled job is
    stopped first and then `unschedule`d: a start that fires in between finds the stop.
    """
    job = store.get_job(job_id)
    if job is None:
        raise NotFound("job")
    if job.status is JobStatus.CANCELLED:
        return job, False
    if job.finished:
        raise RequestError(
            None,
            f"job is already {job.status}: every recipient has its outcome, nothing is left to cancel",
            code="job_finished",
            status=409,
        )
    if job.stop and job.stop.outcome is not JobStatus.CANCELLED:
        raise RequestError(
            None,
            f"job is already stopping after error {job.stop.code}: {job.stop.reason}",
            code="job_stopping",
            status=409,
        )
    request_stop(store, job_id, Stop(JobStatus.CANCELLED, CANCELLED_CODE, CANCELLED_REASON))
    if job.status is JobStatus.SCHEDULED:
        unschedule(job)
    job = store.get_job(job_id) or job
    return job, job.counts.queued > 0
