"""Read views of jobs and recipients in the shape of the public contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulksms.domain.job import Job

_RECIPIENT_FIELDS = ("api_message_id", "error_code", "error", "delivery_status", "charge", "updated_at")


def job_view(job: Job) -> dict[str, Any]:
    view: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status.value,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
        "client_reference": job.client_reference,
        "encoding": job.message.encoding.value,
        "parts_per_message": job.message.parts,
        "counts": job.counts.as_dict(),
        "charge_total": format(job.charge_total.normalize(), "f"),
        # Numbers left out because they are on the suppression list: not recipients, not in `counts`.
        "suppressed": job.suppressed,
    }
    if job.send_at:
        view["send_at"] = job.send_at
    if stop := job.stop:
        view["stop"] = {"outcome": stop.outcome.value, "code": stop.code, "reason": stop.reason}
    return view


def recipient_view(item: Mapping[str, Any]) -> dict[str, Any]:
    view = {"to": item["to"], "status": item["status"]}
    view.update({name: item.get(name) for name in _RECIPIENT_FIELDS})
    return view
