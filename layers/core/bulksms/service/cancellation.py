"""Cancel a job: numbers not yet sent become `cancelled`; chunks in flight finish normally."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from bulksms.adapters.store import Store
from bulksms.domain.status import FINAL_JOB_STATUSES, JobStatus
from bulksms.service.errors import NotFound, RequestError
from bulksms.service.jobs import Stop, stop_job

CANCELLED_CODE = "CANCELLED"
CANCELLED_REASON = "cancelled by request before it was sent"


def cancel(
    store: Store, executor: Executor, job_id: str, *, unschedule: Callable[[str], None] = lambda job_id: None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Returns the job after cancelling, and the job item if this call finished it. Idempotent.

    A scheduled job is stopped first, then its schedule deleted: a start that fires in between finds
    the stop and queues nothing.
    """
    job = store.get_job(job_id)
    if job is None:
        raise NotFound("job")
    if job["status"] == JobStatus.CANCELLED.value:
        return job, None
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
    finished = stop_job(store, executor, job_id, Stop(JobStatus.CANCELLED, CANCELLED_CODE, CANCELLED_REASON))
    if job["status"] == JobStatus.SCHEDULED.value:
        unschedule(job_id)
    return store.get_job(job_id) or job, finished
