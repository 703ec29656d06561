"""Cancel a job: numbers not yet sent become `cancelled`; chunks in flight finish normally.

Cancelling only records the stop, so it answers at once whatever the job's size: the pending chunks
are settled in the background (the sender meets them in their queue messages, the sweeper otherwise),
and the counts show it as it happens.
"""

from __future__ import annotations

from typing import Any

from bulksms.adapters.store import Store, counter
from bulksms.domain.status import FINAL_JOB_STATUSES, JobStatus, RecipientStatus
from bulksms.service.errors import NotFound, RequestError
from bulksms.service.jobs import Stop, request_stop

CANCELLED_CODE = "CANCELLED"
CANCELLED_REASON = "cancelled by request before it was sent"


def cancel(store: Store, job_id: str) -> tuple[dict[str, Any], bool]:
    """Returns the job after recording the stop, and whether numbers are still left to settle.

    Idempotent: cancelling a cancelled (or cancelling) job answers the same way.
    """
    job = store.get_job(job_id)
    if job is None:
        raise NotFound("job")
    if job["status"] == JobStatus.CANCELLED.value:
        return job, False
    if job["status"] in FINAL_JOB_STATUSES:
        raise RequestError(
            None,
            f"job is already {job['status']}: every recipient has its outcome, nothing is left to cancel",
            code="job_finished",
            status=409,
        )
    stop = job.get("stop")
    if stop and stop["outcome"] != JobStatus.CANCELLED.value:
        raise RequestError(
            None,
            f"job is already stopping after error {stop['code']}: {stop['reason']}",
            code="job_stopping",
            status=409,
        )
    request_stop(store, job_id, Stop(JobStatus.CANCELLED, CANCELLED_CODE, CANCELLED_REASON))
    job = store.get_job(job_id) or job
    return job, int(job[counter(RecipientStatus.QUEUED)]) > 0
