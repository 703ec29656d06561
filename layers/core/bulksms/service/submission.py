"""Accept a send request: validate it completely, then record the job and queue its chunks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.webhooks import checked
from bulksms.domain import rejections
from bulksms.domain.chunks import group_indexes, split
from bulksms.domain.encoding import TextError, encode_text
from bulksms.domain.job import Counts, Job, Stop
from bulksms.domain.message import LEGACY_HTTP_RULES, Message, ProviderRules, sender_problem
from bulksms.domain.numbers import parse_recipients
from bulksms.domain.ports import JobStore, SendQueue, StartScheduler
from bulksms.domain.schedule import ScheduleError, iso, now_iso, parse_send_at
from bulksms.domain.status import JobStatus
from bulksms.domain.webhook_urls import UnsafeUrl
from bulksms.models import SendRequest
from bulksms.service.errors import NotFound, RequestError, Unavailable
from bulksms.service.suppressions import SuppressionList

logger = Logger(child=True)

QUEUE_FAILED = "QUEUE_UNAVAILABLE"
SCHEDULE_FAILED = "SCHEDULER_UNAVAILABLE"
NOT_QUEUED = "the job could not be queued; nothing was sent and nothing will be"


@dataclass(frozen=True, slots=True)
class Limits:
    chunk_size: int
    chunks_per_message: int
    max_recipients: int
    max_parts: int
    provider: ProviderRules = field(default=LEGACY_HTTP_RULES)
    callback_hosts_allowed: frozenset[str] = frozenset()  # exempt from the public-address check
    # The deployment's API refuses what it cannot carry: (field, reason), or None (Provider.refusal).
    refusal: Callable[[Message], tuple[str, str] | None] = lambda message: None


@dataclass(frozen=True, slots=True)
class Checked:
    message: Message
    recipients: Any
    send_at: datetime | None


@dataclass(frozen=True, slots=True)
class Screened:
    """A checked request with the suppression list applied: what a send would accept."""

    checked: Checked
    accepted: list[str]
    suppressed: int


def _delivery_settings(request: SendRequest, rules: ProviderRules) -> None:
    if request.validity_minutes is not None and request.validity_minutes > rules.max_validity_minutes:
        raise RequestError(
            "validity_minutes", f"at most {rules.max_validity_minutes} minutes for this Clickatell API"
        )
    priorities = rules.priorities or range(0)
    if request.priority is not None and request.priority not in priorities:
        raise RequestError("priority", "this Clickatell API has no priority queues")


def requested(request: SendRequest) -> int:
    """How many numbers the request lists, before any is normalised or checked."""
    return len(request.to) if isinstance(request.to, list) else request.to.count(",") + 1


def validate(request: SendRequest, limits: Limits, now: datetime | None = None) -> Checked:
    """Everything a request can get wrong, checked before anything is written."""
    raw_count = requested(request)
    if raw_count > limits.max_recipients:
        raise RequestError(
            "to",
            f"{raw_count} numbers is more than the limit of {limits.max_recipients}; split the job",
            code="too_many_recipients",
        )
    if problem := sender_problem(request.sender, request.mo):
        raise RequestError(*problem)
    if request.udh and request.msg_type != "SMS_TEXT":
        raise RequestError("udh", "udh cannot be combined with msg_type SMS_FLASH")
    _delivery_settings(request, limits.provider)
    send_at = None
    if request.send_at is not None:
        try:
            send_at = parse_send_at(request.send_at, now or datetime.now(UTC))
        except ScheduleError as error:
            raise RequestError("send_at", f"send_at {error}") from error
    if request.status_callback_url:
        try:
            checked(request.status_callback_url, limits.callback_hosts_allowed)
        except UnsafeUrl as error:
            raise RequestError("status_callback_url", f"status_callback_url {error}") from None
    try:
        encoded = encode_text(request.text, request.encoding, udh=request.udh, max_parts=limits.max_parts)
    except TextError as error:
        raise RequestError(error.field, str(error)) from error
    message = Message(
        encoding=encoded.encoding,
        payload=encoded.payload,
        parts=encoded.parts,
        udh=encoded.udh,
        sender=request.sender,
        mo=request.mo,
        callback=request.callback or 0,
        msg_type=request.msg_type,
        validity=request.validity_minutes,
        queue=request.priority,
    )
    if refused := limits.refusal(message):
        raise RequestError(*refused, code="unsupported_option")
    recipients = parse_recipients(request.to)
    if not recipients.accepted:
        reasons = "; ".join(f"{rejections.echo(r.to)!r}: {r.reason}" for r in recipients.rejected[:3])
        raise RequestError("to", f"no valid recipient ({reasons})", code="no_valid_recipient")
    return Checked(message, recipients, send_at)


def screen(request: SendRequest, limits: Limits, suppressions: SuppressionList) -> Screened:
    """validate(), then the suppression list: the numbers a send would go to."""
    # Started first, read strongly consistent: nothing listed before this request goes out.
    check = suppressions.check(min(requested(request), limits.max_recipients))
    checked = validate(request, limits)
    accepted, suppressed = check.split(checked.recipients.accepted)
    if not accepted:
        raise RequestError(
            "to",
            f"every valid number ({suppressed}) is on the suppression list; nothing to send",
            code="no_valid_recipient",
        )
    return Screened(checked, accepted, suppressed)


def dry_run(request: SendRequest, limits: Limits, suppressions: SuppressionList) -> dict[str, Any]:
    """The answer a send would get, priced, with nothing written, queued or sent."""
    screened = screen(request, limits, suppressions)
    checked = screened.checked
    message, recipients = checked.message, checked.recipients
    # Clickatell charges a credit per part per number (a routing profile may charge more).
    credits = message.parts * len(screened.accepted)
    return {
        "status": "dry_run",
        "accepted": len(screened.accepted),
        "duplicates_removed": recipients.duplicates_removed,
        "suppressed": screened.suppressed,
        "normalised": recipients.normalised,
        # Bounded like a send's sample; without a job there is no listing of the rest.
        "rejected": rejections.sample(rejections.entries(recipients.rejected[: rejections.SAMPLE_COUNT])),
        "rejected_count": len(recipients.rejected),
        "encoding": message.encoding.value,
        "parts_per_message": message.parts,
        "client_reference": request.client_reference,
        "send_at": iso(checked.send_at) if checked.send_at else None,
        "estimated_credits": credits,
    }


def submit(
    request: SendRequest,
    store: JobStore,
    queue: SendQueue,
    limits: Limits,
    scheduler: StartScheduler,
    suppressions: SuppressionList,
    job_id: str | None = None,
) -> str:
    """Record the job (its rejected inputs and chunks first) and queue or schedule it; returns its id.

    Nothing raises once the job is recorded: a queue or scheduler failure stops the job instead (it is
    then never sent, so a client that sends again cannot get it twice) and the answer says so.
    """
    screened = screen(request, limits, suppressions)
    checked, accepted, suppressed = screened.checked, screened.accepted, screened.suppressed
    message, recipients, send_at = checked.message, checked.recipients, checked.send_at
    # 32 hex: also our `climsgid`, within Clickatell's 32-character limit
    job_id = job_id or uuid.uuid4().hex
    chunks = split(accepted, limits.chunk_size)
    created_at = now_iso()
    job = Job(
        job_id=job_id,
        status=JobStatus.SCHEDULED if send_at else JobStatus.QUEUED,
        created_at=created_at,
        updated_at=created_at,
        message=message,
        counts=Counts.all_queued(len(accepted)),
        chunk_count=len(chunks),
        send_at=iso(send_at) if send_at else None,
        client_reference=request.client_reference or None,
        status_callback_url=request.status_callback_url or None,
        rejected_count=len(recipients.rejected),
        duplicates_removed=recipients.duplicates_removed,
        normalised=recipients.normalised,
        suppressed=suppressed,
    )
    store.put_rejected(job_id, rejections.entries(recipients.rejected))
    store.create_job(job, chunks)
    try:
        if send_at:
            # Chunks are queued when the schedule starts the job (service.scheduling), not now.
            scheduler.schedule_start(job_id, send_at)
        else:
            queue.enqueue(job_id, group_indexes(len(chunks), limits.chunks_per_message))
    except Exception:
        logger.exception("job could not be queued; stopping it", extra={"job_id": job_id})
        store.request_stop(job_id, Stop.failed(SCHEDULE_FAILED if send_at else QUEUE_FAILED, NOT_QUEUED))
        return job_id
    logger.info(
        "job accepted",
        extra={
            "job_id": job_id,
            "accepted": len(accepted),
            "rejected": len(recipients.rejected),
            "suppressed": suppressed,
            "chunks": len(chunks),
            "encoding": message.encoding.value,
            "parts": message.parts,
            "send_at": job.send_at,
        },
    )
    return job_id


def accepted_answer(store: JobStore, job_id: str) -> dict[str, Any]:
    """The 202 answer, rebuilt from the stored job: the same for the first request and its replays,
    and bounded whatever the request held (`rejected` is a sample; the full list is a listing)."""
    job = store.get_job(job_id)
    if job is None:  # only if the job expired (retention) while its idempotency record lived on
        raise NotFound("job")
    if job.stop and job.stop.code in (QUEUE_FAILED, SCHEDULE_FAILED):
        raise Unavailable(f"job {job_id}: {NOT_QUEUED}. Send the request again with a new Idempotency-Key")
    rejected_count = job.rejected_count
    listed = store.rejected_page(job_id, rejected_count, limit=rejections.SAMPLE_COUNT, token=None).items
    links = {
        "self": f"/v1/messages/{job_id}",
        "recipients": f"/v1/messages/{job_id}/recipients",
        "rejected": f"/v1/messages/{job_id}/rejected",
    }
    return {
        "job_id": job_id,
        # What the job was accepted as, whatever it has become since (the same answer for a replay).
        "status": (JobStatus.SCHEDULED if job.send_at else JobStatus.QUEUED).value,
        "accepted": job.counts.total,
        "duplicates_removed": job.duplicates_removed,
        "suppressed": job.suppressed,
        "normalised": job.normalised,
        "rejected": rejections.sample(listed),
        "rejected_count": rejected_count,
        "encoding": job.message.encoding.value,
        "parts_per_message": job.message.parts,
        "client_reference": job.client_reference,
        "send_at": job.send_at,
        "links": links,
    }
