"""Sizes of a bench run (full or smoke) and the template facts the phases share."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from bench.procs import ROOT

# The sendmsg credentials `python -m local.simulator` accepts by default.
SIM_USER, SIM_PASSWORD, SIM_API_ID = "sim-user", "sim-password", "3456789"
SIM_API_KEY = "sim-api-key"  # and the One API key
MESSAGE_TEXT = "Your code is 1234"


@dataclass(frozen=True)
class TemplateFacts:
    """What template.yaml says about the deployed system, read once with the local template reader."""

    sender_threads: int
    chunk_size: int
    chunks_per_message: int
    sender_batch_size: int
    sender_max_concurrency: int
    max_recipients: int
    memory_mb: dict[str, int] = field(default_factory=dict)  # by logical id
    timeout_s: dict[str, int] = field(default_factory=dict)


@cache
def template_facts() -> TemplateFacts:
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    params = template.parameters
    functions = template.functions()
    return TemplateFacts(
        sender_threads=int(params["SenderThreads"]),
        chunk_size=int(params["ChunkSize"]),
        chunks_per_message=int(params["ChunksPerMessage"]),
        sender_batch_size=int(params["SenderBatchSize"]),
        sender_max_concurrency=int(params["SenderMaxConcurrency"]),
        max_recipients=int(params["MaxRecipients"]),
        memory_mb={f.logical_id: f.memory_mb for f in functions},
        timeout_s={f.logical_id: f.timeout_s for f in functions},
    )


@dataclass(frozen=True)
class BenchConfig:
    smoke: bool
    threads: int  # sender threads, both sides of every send-path pair
    chunk_size: int  # numbers per sendmsg POST
    send_recipients: int  # phase 1: ours (with its writes) vs the baseline
    send_rounds: int  # alternating rounds per side; the median counts
    conn_recipients: int  # phase 2: pooled vs a new connection per POST
    store_items: int  # phase 1b: Store.put_results against moto
    cold_runs: int  # phase 3: fresh interpreters per module
    api_recipients: int  # phase 4
    e2e_recipients: int  # phase 5: the job through the local stack, and moto's BatchWriteItem ceiling
    callback_recipients: (
        int  # phase 5b: a job at callback level 3: reports/s, memory, the report path's costs
    )
    callback_level: int = 3  # the README's example: intermediate + final status, two callbacks each
    # phase 7: five jobs at once under MaxSendRate, in chunks small against 10 s of budget (1/40 of
    # it) and few per second (4), so the cap binds well below what even a busy machine sends uncapped
    rate_cap_per_s: int = 200
    rate_cap_chunk: int = 50
    rate_cap_jobs: int = 5
    rate_cap_recipients: int = 800  # per job: 20 s at the cap

    @classmethod
    def full(cls, **overrides: int) -> BenchConfig:
        facts = template_facts()
        values = dict(
            smoke=False,
            threads=facts.sender_threads,
            chunk_size=facts.chunk_size,
            send_recipients=300_000,
            send_rounds=5,
            conn_recipients=120_000,
            store_items=12_000,
            cold_runs=7,
            api_recipients=facts.max_recipients,
            e2e_recipients=50_000,
            callback_recipients=20_000,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def tiny(cls, **overrides: int) -> BenchConfig:
        facts = template_facts()
        values = dict(
            smoke=True,
            threads=facts.sender_threads,
            chunk_size=facts.chunk_size,
            send_recipients=6_000,
            send_rounds=1,
            conn_recipients=3_000,
            store_items=600,
            cold_runs=1,
            api_recipients=1_000,
            e2e_recipients=1_200,
            callback_recipients=50,
            rate_cap_recipients=100,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def numbers(count: int, start: int = 0) -> list[str]:
    """`count` distinct South African mobile numbers (27 82 ...), valid for phonenumbers and the simulator.

    Distinct `start`s give disjoint sets (up to 10 million numbers in all).
    """
    if start + count > 10_000_000:
        raise ValueError("at most 10 million bench numbers")
    return [f"2782{index:07d}" for index in range(start, start + count)]
