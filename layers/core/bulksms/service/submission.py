"""Accept a send request: validate it completely, then record the job and queue its chunks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.adapters.queue import SendQueue
from bulksms.adapters.store import Store, now_iso
from bulksms.adapters.webhooks import checked
from bulksms.domain import rejections
from bulksms.domain.chunks import group_indexes, split
from bulksms.domain.encoding import TextError, encode_text
from bulksms.domain.message import Message
from bulksms.domain.numbers import parse_recipients
from bulksms.domain.status import JobStatus
from bulksms.domain.webhook_urls import UnsafeUrl
from bulksms.models import SendRequest
from bulksms.service.errors import NotFound, RequestError, Unavailable

logger = Logger(child=True)

QUEUE_FAILED = "QUEUE_UNAVAILABLE"
NOT_QUEUED = "the job could not be queued; nothing was sent and nothing will be"


@dataclass(frozen=True, slots=True)
class Limits:
    chunk_size: int
    chunks_per_message: int
    max_recipients: int
    max_parts: int
    callback_hosts_allowed: frozenset[str] = frozenset()  # exempt from the public-address check


def validate(request: SendRequest, limits: Limits) -> tuple[Message, Any]:
    """Everything a request can get wrong, checked before anything is written."""
    raw_count = len(request.to) if isinstance(request.to, list) else request.to.count(",") + 1
    if raw_count > limits.max_recipients:
        raise RequestError(
            "to",
            f"{raw_count} numbers is more than the limit of {limits.max_recipients}; split the job",
            code="too_many_recipients",
        )
    if request.mo and not request.sender:
        raise RequestError("from", "mo needs from: the two-way number to send from")
    if request.udh and request.msg_type != "SMS_TEXT":
        raise RequestError("udh", "udh cannot be combined with msg_type SMS_FLASH")
    if request.status_callback_url:
        try:
            checked(request.status_callback_url, limits.callback_hosts_allowed)
        except UnsafeUrl as error:
            raise RequestError("status_callback_url", f"status_callback_url {error}") from None
    try:
        encoded = encode_text(request.text, request.encoding, udh=request.udh, max_parts=limits.max_parts)
    except TextError as error:
        raise RequestError(error.field, str(error)) from error
    recipients = parse_recipients(request.to)
    if not recipients.accepted:
        reasons = "; ".join(f"{rejections.echo(r.to)!r}: {r.reason}" for r in recipients.rejected[:3])
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
    request: SendRequest, store: Store, queue: SendQueue, limits: Limits, job_id: str | None = None
) -> str:
    """Record the job (its rejected inputs and chunks first) and queue it; returns its id.

    Nothing raises once the job is recorded: a queue failure stops the job instead (it is then never
    sent, so a client that sends again cannot get it twice) and the answer says so.
    """
    message, recipients = validate(request, limits)
    # 32 hex: also our `climsgid`, within Clickatell's 32-character limit
    job_id = job_id or uuid.uuid4().hex
    chunks = split(recipients.accepted, limits.chunk_size)
    created_at = now_iso()
    job = {
        "job_id": job_id,
        "created_at": created_at,
        "updated_at": created_at,
        "message": message.to_item(),
        "duplicates_removed": recipients.duplicates_removed,
        "normalised": recipients.normalised,
        "rejected_count": len(recipients.rejected),
    }
    if request.client_reference:
        job["client_reference"] = request.client_reference
    if request.status_callback_url:
        job["status_callback_url"] = request.status_callback_url
    store.put_rejected(job_id, rejections.entries(recipients.rejected))
    store.create_job(job, chunks)
    try:
        queue.enqueue(job_id, group_indexes(len(chunks), limits.chunks_per_message))
    except Exception:
        logger.exception("job could not be queued; stopping it", extra={"job_id": job_id})
        store.request_stop(job_id, JobStatus.FAILED, QUEUE_FAILED, NOT_QUEUED)
        return job_id
    logger.info(
        "job accepted",
        extra={
            "job_id": job_id,
            "accepted": len(recipients.accepted),
            "rejected": len(recipients.rejected),
            "chunks": len(chunks),
            "encoding": message.encoding.value,
            "parts": message.parts,
        },
    )
    return job_id


def accepted_answer(store: Store, job_id: str) -> dict[str, Any]:
    """The 202 answer, rebuilt from the stored job: the same for the first request and its replays,
    and bounded whatever the request held (`rejected` is a sample; the full list is a listing)."""
    job = store.get_job(job_id)
    if job is None:  # only if the job expired (retention) while its idempotency record lived on
        raise NotFound("job")
    stop = job.get("stop")
    if stop and stop["code"] == QUEUE_FAILED:
        raise Unavailable(f"job {job_id}: {NOT_QUEUED}. Send the request again with a new Idempotency-Key")
    rejected_count = int(job["rejected_count"])
    listed = store.rejected_page(job_id, rejected_count, limit=rejections.SAMPLE_COUNT, token=None).items
    links = {
        "self": f"/v1/messages/{job_id}",
        "recipients": f"/v1/messages/{job_id}/recipients",
        "rejected": f"/v1/messages/{job_id}/rejected",
    }
    return {
        "job_id": job_id,
        "status": JobStatus.QUEUED.value,
        "accepted": int(job["total"]),
        "duplicates_removed": int(job["duplicates_removed"]),
        "normalised": int(job.get("normalised", 0)),
        "rejected": rejections.sample(listed),
        "rejected_count": rejected_count,
        "encoding": job["message"]["encoding"],
        "parts_per_message": int(job["message"]["parts"]),
        "client_reference": job.get("client_reference"),
        "links": links,
    }
