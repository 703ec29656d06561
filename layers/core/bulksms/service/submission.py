"""Accept a send request: validate it completely, then record the job and queue its chunks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.queue import SendQueue
from bulksms.adapters.store import Store, now_iso
from bulksms.domain.chunks import group_indexes, split
from bulksms.domain.encoding import TextError, encode_text
from bulksms.domain.message import Message, sender_problem
from bulksms.domain.numbers import parse_recipients
from bulksms.domain.status import JobStatus
from bulksms.models import SendRequest
from bulksms.service.errors import RequestError
from bulksms.service.suppressions import SuppressionList

logger = Logger(child=True)

QUEUE_FAILED = "QUEUE_UNAVAILABLE"
REJECTED_LISTED = 1000  # the answer lists this many rejections; rejected_count has them all


@dataclass(frozen=True, slots=True)
class Limits:
    chunk_size: int
    chunks_per_message: int
    max_recipients: int
    max_parts: int


def requested(request: SendRequest) -> int:
    """How many numbers the request lists, before any is normalised or checked."""
    return len(request.to) if isinstance(request.to, list) else request.to.count(",") + 1


def validate(request: SendRequest, limits: Limits) -> tuple[Message, Any]:
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
    try:
        encoded = encode_text(request.text, request.encoding, udh=request.udh, max_parts=limits.max_parts)
    except TextError as error:
        raise RequestError(error.field, str(error)) from error
    recipients = parse_recipients(request.to)
    if not recipients.accepted:
        reasons = "; ".join(f"{r.to!r}: {r.reason}" for r in recipients.rejected[:3])
        raise RequestError("to", f"no valid recipient ({reasons})", code="no_valid_recipient")
    message = Message(
        encoding=encoded.encoding,
        payload=encoded.payload,
        parts=encoded.parts,
        udh=encoded.udh,
        sender=request.sender,
        mo=request.mo,
        callback=request.callback or 0,
        msg_type=request.msg_type,
    )
    return message, recipients


def submit(
    request: SendRequest, store: Store, queue: SendQueue, limits: Limits, suppressions: SuppressionList
) -> dict[str, Any]:
    # Started first, read strongly consistent: nothing listed before this request goes out.
    check = suppressions.check(min(requested(request), limits.max_recipients))
    message, recipients = validate(request, limits)
    accepted, suppressed = check.split(recipients.accepted)
    if not accepted:
        raise RequestError(
            "to",
            f"every valid number ({suppressed}) is on the suppression list; nothing to send",
            code="no_valid_recipient",
        )
    job_id = uuid.uuid4().hex  # 32 hex: also our `climsgid`, within Clickatell's 32-character limit
    chunks = split(accepted, limits.chunk_size)
    created_at = now_iso()
    job = {
        "job_id": job_id,
        "created_at": created_at,
        "updated_at": created_at,
        "message": message.to_item(),
        "duplicates_removed": recipients.duplicates_removed,
        "rejected_count": len(recipients.rejected),
        "suppressed": suppressed,
    }
    if request.client_reference:
        job["client_reference"] = request.client_reference
    if request.status_callback_url:
        job["status_callback_url"] = request.status_callback_url
    store.create_job(job, chunks)
    try:
        queue.enqueue(job_id, group_indexes(len(chunks), limits.chunks_per_message))
    except Exception:
        # The client will retry; this job must then never go out alongside the retry's job.
        store.request_stop(
            job_id, JobStatus.FAILED, QUEUE_FAILED, "the job could not be queued; nothing was sent"
        )
        raise
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
        },
    )
    return {
        "job_id": job_id,
        "status": JobStatus.QUEUED.value,
        "accepted": len(accepted),
        "duplicates_removed": recipients.duplicates_removed,
        "suppressed": suppressed,
        "normalised": recipients.normalised,
        "rejected": [{"to": r.to, "reason": r.reason} for r in recipients.rejected[:REJECTED_LISTED]],
        "rejected_count": len(recipients.rejected),
        "encoding": message.encoding.value,
        "parts_per_message": message.parts,
        "client_reference": request.client_reference,
        "links": {"self": f"/v1/messages/{job_id}", "recipients": f"/v1/messages/{job_id}/recipients"},
    }
