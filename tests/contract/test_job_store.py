"""The `JobStore` contract, run against both implementations: the DynamoDB store (on moto, with the
table template.yaml defines) and the in-memory store the service tests use, so the latter stays honest.

Both are driven only through the port; the one thing they do differently is where recipient changes
go (a stream, or `take_changes`), so counts are applied here from explicit updates.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from bulksms.adapters.store import Store
from bulksms.domain.attempts import RecipientResult
from bulksms.domain.counts import CountsUpdate
from bulksms.domain.job import ChunkState, Counts, Job, Stop
from bulksms.domain.ports import JobStore, ReportWrite
from bulksms.domain.reports import DeliveryReport
from bulksms.domain.status import JobStatus, RecipientStatus
from moto import mock_aws

from local.template import load_template
from tests.memory_store import MemoryJobStore, new_job

ROOT = Path(__file__).resolve().parents[2]
S = RecipientStatus
CANCEL = Stop(JobStatus.CANCELLED, "CANCELLED", "cancelled by request")
_TABLES = itertools.count(1)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[object]:
    # Without resetting moto's backends: an in-process local stack of another test file on the same
    # worker keeps using them.
    mock = mock_aws()
    mock.start(reset=False)
    yield boto3.resource("dynamodb", region_name="us-east-1")
    mock.stop(remove_data=False)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> JobStore:
    if request.param == "memory":
        return MemoryJobStore()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    resource = request.getfixturevalue("dynamodb")
    template = load_template(ROOT / "template.yaml")
    (logical_id,) = template.resources_of_type("AWS::DynamoDB::Table")
    name = f"contract-{next(_TABLES)}-{uuid.uuid4().hex[:8]}"
    resource.meta.client.create_table(**template.table_definition(name, logical_id))
    return Store(name, retention_days=1, resource=resource)


CHUNKS = [["27821000001", "27821000002"], ["27821000003"]]


def fully_described(chunks: list[list[str]], status: JobStatus = JobStatus.QUEUED) -> Job:
    """A job with its optional fields set, so a read-back shows that each one is kept."""
    send_at = "2026-01-02T00:00:00Z" if status is JobStatus.SCHEDULED else None
    return new_job(
        chunks,
        status,
        send_at=send_at,
        client_reference="ref-1",
        rejected_count=2,
        duplicates_removed=1,
        suppressed=3,
    )


def created(store: JobStore, status: JobStatus = JobStatus.QUEUED) -> Job:
    job = fully_described(CHUNKS, status)
    store.create_job(job, CHUNKS)
    return job


def test_a_created_job_reads_back_as_it_was_written(store: JobStore) -> None:
    job = created(store)
    assert store.get_job(job.job_id) == job
    assert store.get_job(uuid.uuid4().hex) is None
    chunks = list(store.job_chunks(job.job_id))
    assert [(c.index, c.state, c.numbers) for c in chunks] == [
        (0, ChunkState.PENDING, ("27821000001", "27821000002")),
        (1, ChunkState.PENDING, ("27821000003",)),
    ]
    assert store.load_chunks(job.job_id, [1, 7]) == {1: chunks[1]}
    assert job.job_id in store.active_job_ids()


def test_a_scheduled_job_is_not_active_until_it_starts_once(store: JobStore) -> None:
    job = created(store, JobStatus.SCHEDULED)
    assert job.job_id not in store.active_job_ids()
    store.mark_sending(job.job_id)  # not queued: nothing happens
    assert store.start_scheduled(job.job_id)
    assert not store.start_scheduled(job.job_id)
    started = store.get_job(job.job_id)
    assert started is not None and started.status is JobStatus.QUEUED
    assert job.job_id in store.active_job_ids()
    store.mark_sending(job.job_id)
    sending = store.get_job(job.job_id)
    assert sending is not None and sending.status is JobStatus.SENDING


def test_the_first_stop_wins_and_a_stopped_schedule_does_not_start(store: JobStore) -> None:
    job = created(store, JobStatus.SCHEDULED)
    assert store.request_stop(job.job_id, CANCEL)
    assert not store.request_stop(job.job_id, Stop.failed("301", "No Credit Left"))
    assert store.job_stop(job.job_id) == CANCEL
    assert not store.start_scheduled(job.job_id)
    assert job.job_id in store.active_job_ids()  # the sweeper settles a stopped job's chunks
    assert not store.request_stop(uuid.uuid4().hex, CANCEL)


def test_a_chunk_is_claimed_once_and_a_stop_claim_carries_its_stop(store: JobStore) -> None:
    job = created(store)
    assert store.claim_chunk(job.job_id, 0, "a1", 1_000)
    assert not store.claim_chunk(job.job_id, 0, "a2", 2_000)
    assert store.claim_chunk(job.job_id, 1, "a3", 3_000, stop=CANCEL)
    first, second = store.job_chunks(job.job_id)
    assert (first.state, first.lease_until, first.stop) == (ChunkState.CLAIMED, 1_000, None)
    assert second.stop == CANCEL
    assert first.lease_expired(1_001) and not first.lease_expired(999)
    store.mark_done(job.job_id, 0)
    done = store.load_chunks(job.job_id, [0])[0]
    assert done.state is ChunkState.DONE and not done.lease_expired(10**12)
    assert not store.claim_chunk(job.job_id, 0, "a4", 4_000)


def test_results_are_stored_and_reports_only_move_them_up(store: JobStore) -> None:
    job = created(store)
    store.put_results(
        job.job_id,
        0,
        [
            RecipientResult("27821000001", S.SUBMITTED, "a" * 32),
            RecipientResult("27821000002", S.FAILED, None, "114", "no route"),
        ],
    )
    assert store.numbers_with_results(job.job_id, ["27821000001", "27821000002", "27821000003"]) == {
        "27821000001",
        "27821000002",
    }

    def report(to: str, message_id: str, code: str) -> DeliveryReport:
        return DeliveryReport(message_id, job.job_id, to, code, "0.8", None)

    delivered = report("27821000001", "a" * 32, "004")
    assert store.apply_report(job.job_id, delivered, S.DELIVERED) is ReportWrite.APPLIED
    assert store.apply_report(job.job_id, delivered, S.DELIVERED) is ReportWrite.UNCHANGED
    foreign = report("27821000001", "b" * 32, "004")
    assert store.apply_report(job.job_id, foreign, S.DELIVERED) is ReportWrite.OTHER_MESSAGE
    unsent = report("27821000003", "c" * 32, "004")
    assert store.apply_report(job.job_id, unsent, S.DELIVERED) is ReportWrite.NO_RECIPIENT
    late = report("27821000002", "d" * 32, "004")  # failed is final: no report moves it
    assert store.apply_report(job.job_id, late, S.DELIVERED) is ReportWrite.UNCHANGED


def test_counts_apply_once_under_their_sequence_guard(store: JobStore) -> None:
    job = created(store)
    assert store.applied_sequences([job.job_id, uuid.uuid4().hex]) == {job.job_id: {}}
    first = CountsUpdate(job.job_id, Counter({S.QUEUED: -2, S.SUBMITTED: 2}), Decimal("1.5"), {"R01": 7})
    counted = store.apply_counts(first, {})
    assert counted is not None and counted.counts == Counts.of(3, {S.QUEUED: 1, S.SUBMITTED: 2})
    assert counted.charge_total == Decimal("1.5")
    assert store.apply_counts(first, {}) is None  # the same batch again: the guard holds
    assert store.applied_sequences([job.job_id]) == {job.job_id: {"R01": 7}}
    second = CountsUpdate(job.job_id, Counter({S.QUEUED: -1, S.FAILED: 1}), Decimal(0), {"R01": 9})
    assert store.apply_counts(second, {"R01": 6}) is None  # expected a sequence that is not there
    last = store.apply_counts(second, {"R01": 7})
    assert last is not None and last.counts.queued == 0 and store.get_job(job.job_id) == last


def test_a_job_finishes_once_and_only_when_nothing_is_queued(store: JobStore) -> None:
    job = created(store)
    assert store.finish(job, JobStatus.COMPLETED) is None  # three numbers still queued
    counted = store.apply_counts(
        CountsUpdate(job.job_id, Counter({S.QUEUED: -3, S.SUBMITTED: 3}), applied={"R00": 1}), {}
    )
    assert counted is not None
    finished = store.finish(counted, JobStatus.COMPLETED)
    assert finished is not None and finished.status is JobStatus.COMPLETED and finished.finished_at
    assert store.finish(counted, JobStatus.COMPLETED) is None  # once
    stored = store.get_job(job.job_id)
    assert stored is not None and stored.status is JobStatus.COMPLETED
    assert job.job_id not in store.active_job_ids()
    assert not store.request_stop(job.job_id, CANCEL)  # finished: nothing is left to stop


def test_a_finish_that_read_the_job_before_its_stop_does_not_happen(store: JobStore) -> None:
    job = created(store)
    counted = store.apply_counts(
        CountsUpdate(job.job_id, Counter({S.QUEUED: -3, S.CANCELLED: 3}), applied={"R00": 1}), {}
    )
    assert counted is not None and store.request_stop(job.job_id, CANCEL)
    assert store.finish(counted, JobStatus.COMPLETED) is None  # read without the stop
    stopped = store.get_job(job.job_id)
    assert stopped is not None
    finished = store.finish(stopped, JobStatus.CANCELLED)
    assert finished is not None and finished.status is JobStatus.CANCELLED


def test_rejected_inputs_page_in_order(store: JobStore) -> None:
    job = fully_described(CHUNKS)
    entries = [{"input": str(i), "reason": "invalid"} for i in range(5)]
    store.put_rejected(job.job_id, entries)
    store.create_job(job, CHUNKS)
    first = store.rejected_page(job.job_id, 5, limit=3, token=None)
    assert first.items == entries[:3] and first.next_token
    rest = store.rejected_page(job.job_id, 5, limit=3, token=first.next_token)
    assert rest.items == entries[3:] and rest.next_token is None
