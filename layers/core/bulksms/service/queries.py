"""Read views of jobs and recipients in the shape of the public contract."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bulksms.adapters.store import counts_of

_RECIPIENT_FIELDS = ("api_message_id", "error_code", "error", "delivery_status", "charge", "updated_at")


def job_view(job: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "job_id": job["job_id"],
        "status": job["status"],
        "created_at": job["created_at"],
        "updated_at": job.get("updated_at"),
        "finished_at": job.get("finished_at"),
        "client_reference": job.get("client_reference"),
        "encoding": job["message"]["encoding"],
        "parts_per_message": int(job["message"]["parts"]),
        "counts": counts_of(job),
        "charge_total": format(Decimal(job.get("charge_total", 0)).normalize(), "f"),
    }
    if stop := job.get("stop"):
        view["stop"] = {"outcome": stop["outcome"], "code": stop["code"], "reason": stop["reason"]}
    return view


def recipient_view(item: Mapping[str, Any]) -> dict[str, Any]:
    view = {"to": item["to"], "status": item["status"]}
    view.update({name: item.get(name) for name in _RECIPIENT_FIELDS})
    return view
