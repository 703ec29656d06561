"""The send queue's messages, built and read here for every queue (SQS, and the tests' in-memory one):

{"job_id": "...", "chunks": [0, 1, ...]}   send these chunks
{"job_id": "...", "start": true}           a scheduled job's time has come: queue its chunks
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def chunks_message(job_id: str, chunks: Sequence[int]) -> dict[str, Any]:
    return {"job_id": job_id, "chunks": list(chunks)}


def start_message(job_id: str) -> str:
    return json.dumps({"job_id": job_id, "start": True})


def parse_start(body: str) -> str | None:
    """The job id of a start message; None for any other message."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("start") is True and isinstance(data.get("job_id"), str):
        return str(data["job_id"])
    return None


def parse_message(body: str) -> tuple[str, list[int]]:
    """The job id and chunk numbers of one send-queue message."""
    data = json.loads(body)
    job_id = data["job_id"]
    chunks = data["chunks"]
    if (
        not isinstance(job_id, str)
        or not isinstance(chunks, list)
        or not all(isinstance(c, int) for c in chunks)
    ):
        raise ValueError("send message must be {job_id: str, chunks: [int]}")
    return job_id, chunks
