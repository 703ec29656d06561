"""DynamoDB writes against a separate moto process: the product's `Store.put_results` (its
`batch_write` in 25s with unprocessed-item retries), and moto's own BatchWriteItem rate from a bare
boto3 client with pre-serialised requests, the local ceiling of anything that writes one item per
recipient. Both use the same threads, item shape and 25-item batches.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.config import BenchConfig, numbers
from bench.procs import ROOT

Progress = Callable[[str], None]
_BATCH = 25


def provision_tables(endpoint: str, prefix: str) -> dict[str, str]:
    """The template's table, queues and secrets in the moto at `endpoint`; returns the refs."""
    from local.aws_env import provision
    from local.stack import SIM_CREDENTIALS
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    resources = provision(
        template,
        endpoint,
        prefix=prefix,
        secret_values={
            "ClickatellSecret": SIM_CREDENTIALS,
            "CallbackTokenSecret": {"token": "bench-token"},
            "WebhookSigningSecret": {"key": "bench-webhook-key"},
        },
    )
    return dict(resources.refs)


def store_put_results(endpoint: str, cfg: BenchConfig, progress: Progress) -> dict[str, Any]:
    """Items/s of `Store.put_results` over the product's own boto3 resource (bulksms.adapters.aws),
    one call per 600-number chunk from `threads` threads, as the sender's executor makes them."""
    from bulksms.adapters.store import Store
    from bulksms.domain.attempts import RecipientResult
    from bulksms.domain.chunks import split
    from bulksms.domain.status import RecipientStatus

    refs = provision_tables(endpoint, f"bench-store-{uuid.uuid4().hex[:6]}")
    store = Store(refs["Table"], retention_days=90)  # resource=None: the product's aws.dynamodb()
    job_id = uuid.uuid4().hex
    chunks = split(numbers(cfg.store_items, start=5_000_000), cfg.chunk_size)
    results = [
        tuple(RecipientResult(to, RecipientStatus.SUBMITTED, f"{uuid.uuid4().hex}") for to in chunk)
        for chunk in chunks
    ]
    store.put_results(job_id, 0, results[0][:_BATCH])  # clients and connections made before the clock

    def work(index: int) -> int:
        store.put_results(job_id, index, results[index])
        return len(results[index])

    with ThreadPoolExecutor(max_workers=cfg.threads) as executor:
        start = time.perf_counter()
        written = sum(executor.map(work, range(len(chunks))))
        seconds = time.perf_counter() - start
    progress(f"  Store.put_results: {written / seconds:,.0f} items/s ({written} items, {seconds:.2f} s)")
    return {
        "items": written,
        "threads": cfg.threads,
        "seconds": round(seconds, 4),
        "items_per_s": round(written / seconds, 1),
        "batch_write_calls": -(-written // _BATCH),
    }


def moto_batch_write(endpoint: str, cfg: BenchConfig, items: int, progress: Progress) -> dict[str, Any]:
    """Moto's own BatchWriteItem rate: pre-serialised 25-item requests of recipient-shaped items from
    a plain boto3 client with the product's client config, `threads` threads, nothing else."""
    import boto3
    from bulksms.adapters.aws import _CONFIG
    from bulksms.adapters.store import recipient_key

    refs = provision_tables(endpoint, f"bench-ceiling-{uuid.uuid4().hex[:6]}")
    table = refs["Table"]
    client = boto3.client("dynamodb", endpoint_url=endpoint, config=_CONFIG)
    job_id = uuid.uuid4().hex
    now = "2026-11-25T00:00:00.000Z"
    expires = str(int(time.time()) + 90 * 86_400)

    def typed(to: str) -> dict[str, Any]:
        key = recipient_key(job_id, to)
        return {
            "PutRequest": {
                "Item": {
                    "pk": {"S": key["pk"]},
                    "sk": {"S": key["sk"]},
                    "to": {"S": to},
                    "status": {"S": "submitted"},
                    "chunk": {"N": "0"},
                    "updated_at": {"S": now},
                    "expires_at": {"N": expires},
                    "api_message_id": {"S": uuid.uuid4().hex},
                }
            }
        }

    all_numbers = numbers(items, start=6_000_000)
    requests = [
        {table: [typed(to) for to in all_numbers[start : start + _BATCH]]}
        for start in range(0, len(all_numbers), _BATCH)
    ]
    client.describe_table(TableName=table)  # connection made before the clock

    def work(request: dict[str, Any]) -> int:
        pending = request
        for _ in range(8):
            answer = client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
        return len(request[table])

    with ThreadPoolExecutor(max_workers=cfg.threads) as executor:
        start = time.perf_counter()
        written = sum(executor.map(work, requests))
        seconds = time.perf_counter() - start
    progress(f"  moto BatchWriteItem: {written / seconds:,.0f} items/s ({written} items, {seconds:.2f} s)")
    return {
        "items": written,
        "threads": cfg.threads,
        "seconds": round(seconds, 4),
        "items_per_s": round(written / seconds, 1),
        "calls": len(requests),
    }
