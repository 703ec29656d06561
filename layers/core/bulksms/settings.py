"""Settings read once per container from the environment the template sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _hosts(name: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in os.environ.get(name, "").split(",") if h.strip())


CLICKATELL_APIS = ("http", "one")
_DEFAULT_BASE_URLS = {"http": "https://api.clickatell.com", "one": "https://platform.clickatell.com"}


def _clickatell_api() -> str:
    api = os.environ.get("CLICKATELL_API") or "http"
    if api not in CLICKATELL_APIS:
        raise ValueError(f"CLICKATELL_API must be one of {', '.join(CLICKATELL_APIS)}, not {api!r}")
    return api


@dataclass(frozen=True)
class Settings:
    table_name: str
    send_queue_url: str
    clickatell_secret_id: str
    callback_token_secret_id: str
    clickatell_api: str  # "http" (legacy sendmsg) or "one" (the One API); runtime.provider() reads it
    clickatell_base_url: str
    chunk_size: int
    chunks_per_message: int
    sender_threads: int
    max_recipients: int
    max_parts: int
    retention_days: int
    connect_timeout_s: float
    read_timeout_s: float
    send_attempts: int
    lease_seconds: int
    max_body_bytes: int
    requeue_after_s: int
    max_send_rate: float  # recipients/s toward Clickatell for the whole deployment; 0: no cap
    schedule_group: str
    scheduler_role_arn: str
    send_queue_arn: str
    dead_letter_queue_arn: str
    inbound_webhook_url: str
    opt_out_confirmation_text: str  # empty: a STOP gets no reply
    webhook_queue_url: str
    webhook_signing_secret_id: str
    webhook_allowed_hosts: frozenset[str]  # exempt from the public-address check (tests, a VPC endpoint)
    webhook_deadline_s: float
    webhook_ca_file: str  # empty: the system's certificate authorities (a test endpoint brings its own)


@cache
def settings() -> Settings:
    api = _clickatell_api()
    return Settings(
        table_name=os.environ.get("TABLE_NAME", "bulksms"),
        send_queue_url=os.environ.get("SEND_QUEUE_URL", ""),
        clickatell_secret_id=os.environ.get("CLICKATELL_SECRET_ID", "bulksms/clickatell"),
        callback_token_secret_id=os.environ.get("CALLBACK_TOKEN_SECRET_ID", "bulksms/callback-token"),
        clickatell_api=api,
        clickatell_base_url=(os.environ.get("CLICKATELL_BASE_URL") or _DEFAULT_BASE_URLS[api]).rstrip("/"),
        chunk_size=_int("CHUNK_SIZE", 600),
        chunks_per_message=_int("CHUNKS_PER_MESSAGE", 10),
        sender_threads=_int("SENDER_THREADS", 8),
        max_recipients=_int("MAX_RECIPIENTS", 100_000),
        max_parts=_int("MAX_PARTS", 3),
        retention_days=_int("RETENTION_DAYS", 90),
        connect_timeout_s=_float("CLICKATELL_CONNECT_TIMEOUT", 3.05),
        read_timeout_s=_float("CLICKATELL_READ_TIMEOUT", 20.0),
        send_attempts=_int("SEND_ATTEMPTS", 4),
        lease_seconds=_int("CHUNK_LEASE_SECONDS", 180),
        max_body_bytes=_int("MAX_BODY_BYTES", 6_000_000),
        requeue_after_s=_int("REQUEUE_AFTER_SECONDS", 900),
        max_send_rate=_float("MAX_SEND_RATE", 0.0),
        schedule_group=os.environ.get("SCHEDULE_GROUP", "default"),
        scheduler_role_arn=os.environ.get("SCHEDULER_ROLE_ARN", ""),
        send_queue_arn=os.environ.get("SEND_QUEUE_ARN", ""),
        dead_letter_queue_arn=os.environ.get("DEAD_LETTER_QUEUE_ARN", ""),
        inbound_webhook_url=os.environ.get("INBOUND_WEBHOOK_URL", ""),
        opt_out_confirmation_text=os.environ.get("OPT_OUT_CONFIRMATION_TEXT", ""),
        webhook_queue_url=os.environ.get("WEBHOOK_QUEUE_URL", ""),
        webhook_signing_secret_id=os.environ.get("WEBHOOK_SIGNING_SECRET_ID", "bulksms/webhook-signing"),
        webhook_allowed_hosts=_hosts("WEBHOOK_ALLOWED_HOSTS"),
        webhook_deadline_s=_float("WEBHOOK_DEADLINE_SECONDS", 5.0),
        webhook_ca_file=os.environ.get("WEBHOOK_CA_FILE", ""),
    )
