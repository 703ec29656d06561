# ruff: noqa: F811 - fixtures imported from tests.integration.faults are redefined as parameters
"""Issue 4: no number lost, none sent twice, under faults, crashes and retries.

Every test drives the real handlers (API, sender, sweeper) against moto and the Clickatell simulator,
then checks the invariants on what was stored and on what reached the wire:
- every accepted number has exactly one recipient item, in a final status, and the job's counts are the
  tally of those items;
- a number is POSTed at most once unless the earlier attempt provably never reached Clickatell
  (simulator `duplicate_sends == 0`, and the recorder around the simulator counts the POSTs per number);
- an attempt whose fate is unknown leaves its numbers `unknown`, never resent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from bulksms.adapters.clickatell import ClickatellClient
from bulksms.adapters.store import Store
from bulksms.domain.attempts import NOT_SENT_CODE

from local.stack import LocalStack
from tests.integration.faults import (  # noqa: F401 - fixtures
    SimRecorder,
    check_every_number_once,
    chunk_items,
    closed_port,
    enqueue,
    expire_leases,
    forget_job,
    harness,
    http_error,
    make_visible,
    plain_answer,
    receive,
    recipient_items,
    settings_env,
    sweep,
    wire,
)
from tests.integration.jobs import get_job, numbers, submit

FAST = {"CLICKATELL_READ_TIMEOUT": "0.5", "CLICKATELL_CONNECT_TIMEOUT": "0.5", "SEND_ATTEMPTS": "3"}


class SimulatedCrash(RuntimeError):
    """The sender's container dying at a chosen point (timeout, OOM, a lost DynamoDB call)."""


# ---- 1. the fault matrix ------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", ["http", "one"])
def test_fault_matrix_twenty_thousand_numbers_each_recorded_once_none_sent_twice(
    api: Any,
    drain: Any,
    fresh: LocalStack,
    settings_env: Any,
    wire: SimRecorder,
    record_property: Any,
    request: pytest.FixtureRequest,
    provider: str,
) -> None:
    # 100-number chunks (the One API's limit per request): 200 POSTs, so every kind of fault occurs with
    # near certainty even though the order in which concurrent requests draw from the simulator's seeded
    # RNG varies from run to run.
    settings_env(**FAST, CHUNK_SIZE=100, CLICKATELL_API=provider)
    sim = fresh.simulator
    # No delivery callbacks (the One API integration would push them unasked): this is about sending.
    sim.configure(stall_seconds=1.5, one_api_callback_level=0)
    sim.set_faults(http_5xx=0.1, timeout=0.05, reset=0.05, err_per_number=0.02, seed=20240604)
    to = numbers(20_000)
    started = time.monotonic()
    job_id = submit(api, to)
    request.addfinalizer(lambda: forget_job(fresh, job_id))

    drain()
    if any(c["state"] == "claimed" for c in chunk_items(fresh, job_id)):
        expire_leases(fresh, job_id)
        sweep(fresh)

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed", job
    counts = job["counts"]
    stats = sim.stats()
    figures = {
        "recipients": len(to),
        "submitted": counts["submitted"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "duplicate_sends": stats["duplicate_sends"],
        "simulator_requests": stats["requests"],
        "simulator_recipients_accepted": stats["recipients_accepted"],
        "faults_injected": stats["faults_injected"],
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\nfault matrix ({provider}): {json.dumps(figures)}")
    for name, value in figures.items():
        record_property(name, value)

    assert stats["duplicate_sends"] == 0
    # Every request went to the deployment's API (not compared with len(wire.calls): on a loaded machine a
    # request the client gave up on may still be in the simulator, counted but not yet recorded).
    assert stats["requests_by_api"][provider] == stats["requests"]
    assert {call.api for call in wire.calls} == {provider}
    assert counts["submitted"] <= stats["recipients_accepted"] <= counts["submitted"] + counts["unknown"]
    # The faults really happened, and each kind left its mark.
    injected = stats["faults_injected"]
    assert injected["http_5xx"] and injected["timeout"] and injected["reset"] and injected["err_per_number"]
    assert counts["unknown"] > 0 and counts["failed"] > 0 and counts["submitted"] > 0
    # No number was carried by two requests the simulator processed (only 502/503 are retried, and those
    # were answered before processing).
    processed: Counter[str] = Counter()
    for call in wire.calls:
        if not (call.action == "http_error" and call.status in (502, 503)):
            processed.update(call.numbers)
    assert max(processed.values()) == 1
    # Every number reached it once, except those whose every attempt was refused before processing.
    not_sent = {n for n, item in by_number.items() if item.get("error_code") == NOT_SENT_CODE}
    assert set(processed) == set(to) - not_sent
    # A number the simulator refused on its own line is `failed` with that code.
    refused = wire.per_number_errors()
    assert refused
    for number, code in refused.items():
        assert by_number[number]["status"] == "failed", by_number[number]
        assert by_number[number]["error_code"] == code
    # Every `submitted` number carries the ID the simulator gave it, in an answer that reached us.
    ids = wire.accepted_ids()
    for number, item in by_number.items():
        if item["status"] == "submitted":
            assert ids[number] == [item["api_message_id"]]
        elif item["status"] == "unknown":
            assert item["error"], item
    assert counts["submitted"] == sum(1 for n, i in ids.items() if by_number[n]["status"] == "submitted")


# ---- 2. crashes -----------------------------------------------------------------------------------------


def _crash_once(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, *, after: bool = False) -> list[Any]:
    """Make `cls.name` raise SimulatedCrash the first time it is called (before or after doing its work).
    Returns the list that receives the crashed call's arguments."""
    original = getattr(cls, name)
    crashed: list[Any] = []
    lock = threading.Lock()

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            first = not crashed
            if first:
                crashed.append(args)
        if first and not after:
            raise SimulatedCrash(f"{name} died")
        result = original(self, *args, **kwargs)
        if first and after:
            raise SimulatedCrash(f"died after {name}")
        return result

    monkeypatch.setattr(cls, name, wrapper)
    return crashed


def _first_delivery(fresh: LocalStack) -> tuple[Any, list[dict[str, Any]]]:
    poller = fresh.sender_poller()
    messages = poller.receive(0)
    assert len(messages) == 1
    return poller, messages


def _chunk_states(fresh: LocalStack, job_id: str) -> Counter[str]:
    return Counter(c["state"] for c in chunk_items(fresh, job_id))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("settled_by", ["sweeper", "redelivery"])
def test_crash_between_claim_and_post_leaves_the_chunk_unknown_and_unsent(
    api: Any,
    fresh: LocalStack,
    settings_env: Any,
    wire: SimRecorder,
    monkeypatch: pytest.MonkeyPatch,
    settled_by: str,
) -> None:
    settings_env(CHUNK_LEASE_SECONDS=600)
    to = numbers(1800)  # three chunks in one queue message
    job_id = submit(api, to)
    crashed = _crash_once(monkeypatch, ClickatellClient, "send")

    poller, messages = _first_delivery(fresh)
    assert poller.invoke(messages) == [messages[0]["MessageId"]]  # partial batch failure: delivered again
    lost = set(crashed[0][1])  # send(message, numbers, ...)
    assert len(lost) == 600
    assert _chunk_states(fresh, job_id) == {"done": 2, "claimed": 1}
    claimed = next(c for c in chunk_items(fresh, job_id) if c["state"] == "claimed")
    assert set(claimed["numbers"].split(",")) == lost
    assert fresh.simulator.stats()["requests"] == 2

    if settled_by == "sweeper":
        # SQS delivers the message again while the claim's lease is live: the chunk is not touched.
        make_visible(fresh, messages)
        again = poller.receive(0)
        assert [m["MessageId"] for m in again] == [messages[0]["MessageId"]]
        assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
        poller.invoke(again)
        assert fresh.simulator.stats()["requests"] == 2
        assert _chunk_states(fresh, job_id) == {"done": 2, "claimed": 1}
        job = get_job(api, job_id)
        assert job["status"] == "sending" and job["counts"]["queued"] == 600
        expire_leases(fresh, job_id)
        tally = sweep(fresh)
        assert tally.get("abandoned_claims") == 1, tally  # its results then finish the job
    else:
        # The redelivery comes after the lease ran out: the sender settles the abandoned claim itself.
        expire_leases(fresh, job_id)
        make_visible(fresh, messages)
        again = poller.receive(0)
        assert len(again) == 1
        assert poller.invoke(again) == []

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed"
    assert job["counts"]["submitted"] == 1200 and job["counts"]["unknown"] == 600
    for number in to:
        item = by_number[number]
        if number in lost:
            assert item["status"] == "unknown" and "not resent" in item["error"], item
        else:
            assert item["status"] == "submitted", item
    posts = wire.posts_per_number()
    assert not lost & set(posts)  # never sent: the claim was never followed by a POST
    assert max(posts.values()) == 1
    stats = fresh.simulator.stats()
    assert stats["requests"] == 2 and stats["duplicate_sends"] == 0
    assert fresh.queue_depth() == 0


@pytest.mark.timeout(60)
def test_crash_between_post_and_storing_results_leaves_the_chunk_unknown_never_resent(
    api: Any, fresh: LocalStack, settings_env: Any, wire: SimRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_env(CHUNK_LEASE_SECONDS=600)
    to = numbers(1800)
    job_id = submit(api, to)
    crashed = _crash_once(monkeypatch, Store, "put_results")

    poller, messages = _first_delivery(fresh)
    assert poller.invoke(messages) == [messages[0]["MessageId"]]
    lost_chunk = crashed[0][1]  # put_results(job_id, chunk, results)
    lost = {result.to for result in crashed[0][2]}
    assert len(lost) == 600
    assert fresh.simulator.stats()["requests"] == 3  # the POST went out and Clickatell took it
    assert fresh.simulator.stats()["recipients_accepted"] == 1800

    make_visible(fresh, messages)  # redelivered while the lease is live: nothing is sent again
    assert poller.invoke(poller.receive(0)) == []
    assert fresh.simulator.stats()["requests"] == 3
    expire_leases(fresh, job_id)
    assert sweep(fresh).get("abandoned_claims") == 1
    enqueue(fresh, messages[0]["Body"])  # and once more after it was settled: still nothing is sent
    assert poller.invoke(poller.receive(0)) == []

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed"
    assert job["counts"]["submitted"] == 1200 and job["counts"]["unknown"] == 600
    assert all(by_number[n]["status"] == "unknown" and int(by_number[n]["chunk"]) == lost_chunk for n in lost)
    assert max(wire.posts_per_number().values()) == 1
    stats = fresh.simulator.stats()
    assert stats["requests"] == 3 and stats["duplicate_sends"] == 0
    assert stats["recipients_accepted"] <= job["counts"]["submitted"] + job["counts"]["unknown"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stored_batches", [None, 4], ids=["all-results-stored", "100-of-600-stored"])
def test_crash_between_storing_results_and_settling_keeps_what_was_stored(
    api: Any,
    fresh: LocalStack,
    settings_env: Any,
    wire: SimRecorder,
    monkeypatch: pytest.MonkeyPatch,
    stored_batches: int | None,
) -> None:
    """The claimer stored all (or the first batches of) a chunk's results, then died before settling.
    The abandoned claim keeps what was stored (`submitted` with its ID), only the rest is `unknown`,
    the counts are the tally, and nothing is sent again."""
    settings_env(CHUNK_LEASE_SECONDS=600)
    to = numbers(1800)
    job_id = submit(api, to)
    if stored_batches is None:
        _crash_once(monkeypatch, Store, "put_results", after=True)
    else:
        original = Store._write_batch
        batches: Counter[int] = Counter()
        crashed: list[int] = []
        lock = threading.Lock()

        def write_batch(self: Any, client: Any, requests: Any) -> None:
            chunk = int(requests[0]["PutRequest"]["Item"]["chunk"]["N"])  # results are typed items
            with lock:
                batches[chunk] += 1
                crash = not crashed and batches[chunk] == stored_batches + 1
                if crash:
                    crashed.append(chunk)
            if crash:
                raise SimulatedCrash("died while storing results")
            original(self, client, requests)

        monkeypatch.setattr(Store, "_write_batch", write_batch)

    poller, messages = _first_delivery(fresh)
    assert poller.invoke(messages) == [messages[0]["MessageId"]]
    monkeypatch.undo()
    claimed = [c for c in chunk_items(fresh, job_id) if c["state"] == "claimed"]
    assert len(claimed) == 1
    lost = set(claimed[0]["numbers"].split(","))
    expire_leases(fresh, job_id)
    make_visible(fresh, messages)
    assert poller.invoke(poller.receive(0)) == []

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed"
    kept = {n for n in lost if by_number[n]["status"] == "submitted"}
    assert len(kept) == (600 if stored_batches is None else 25 * stored_batches)
    assert all(by_number[n]["api_message_id"] for n in kept)
    assert all(
        by_number[n]["status"] == "unknown" and "not resent" in by_number[n]["error"] for n in lost - kept
    )
    assert job["counts"]["submitted"] == 1200 + len(kept) and job["counts"]["unknown"] == 600 - len(kept)
    assert max(wire.posts_per_number().values()) == 1
    assert fresh.simulator.stats()["duplicate_sends"] == 0


def _crash_after_counting_before_marking_done(
    api: Any, fresh: LocalStack, settings_env: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, list[str]]:
    """Every result stored, but the chunk item still says claimed; then the redelivery after the lease.
    Returns the job id and its numbers."""
    settings_env(CHUNK_LEASE_SECONDS=600)
    to = numbers(1800)
    job_id = submit(api, to)
    crashed = _crash_once(monkeypatch, Store, "mark_done")
    poller, messages = _first_delivery(fresh)
    assert poller.invoke(messages) == [messages[0]["MessageId"]]
    assert crashed
    assert _chunk_states(fresh, job_id) == {"done": 2, "claimed": 1}
    assert get_job(api, job_id)["counts"]["submitted"] == 1800  # the stored results finish the job
    expire_leases(fresh, job_id)
    make_visible(fresh, messages)
    assert poller.invoke(poller.receive(0)) == []
    return job_id, to


@pytest.mark.timeout(60)
def test_crash_after_counting_before_marking_done_counts_once_and_keeps_the_results(
    api: Any, fresh: LocalStack, settings_env: Any, wire: SimRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The abandoned claim of a chunk that was already counted is not re-recorded as unknown nor
    counted again."""
    job_id, to = _crash_after_counting_before_marking_done(api, fresh, settings_env, monkeypatch)
    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 1800, job
    assert all(item["status"] == "submitted" and item["api_message_id"] for item in by_number.values())
    assert max(wire.posts_per_number().values()) == 1


@pytest.mark.timeout(60)
def test_a_counted_chunk_whose_mark_done_was_lost_does_not_stay_claimed(
    api: Any, fresh: LocalStack, settings_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bookkeeping (low severity): the job finishes as soon as the last result is counted, after which
    the sender returns early for the finished job and the sweeper visits only active jobs; so finishing
    marks a chunk left `claimed` done, or it would stay so with an expired lease for good."""
    job_id, _ = _crash_after_counting_before_marking_done(api, fresh, settings_env, monkeypatch)
    assert get_job(api, job_id)["status"] == "completed"
    sweep(fresh)
    assert _chunk_states(fresh, job_id) == {"done": 3}, "a chunk of a finished job is left claimed"


@pytest.mark.timeout(60)
def test_delivery_reports_for_an_abandoned_chunk_are_not_undone_when_it_is_swept(
    api: Any, fresh: LocalStack, settings_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results stored, settle lost; Clickatell's delivery callbacks move the numbers on; then the lease
    expires and the sweeper settles the claim. No recipient may move back, and the counts must stay
    the tally of the recipient items."""
    settings_env(CHUNK_LEASE_SECONDS=600)
    fresh.simulator.configure(callback_delay_ms=20)
    to = numbers(100)
    job_id = submit(api, to, callback=3)
    _crash_once(monkeypatch, Store, "put_results", after=True)

    poller, messages = _first_delivery(fresh)
    assert poller.invoke(messages) == [messages[0]["MessageId"]]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = fresh.simulator.stats()
        if stats["callbacks_pending"] == 0 and stats["callbacks_sent"] >= 2 * len(to):
            break
        time.sleep(0.1)
    delivered = {n for n in to if (fresh.simulator.messages_for(n) or [{}])[0].get("status") == "004"}
    assert delivered, "the simulator delivered nothing; the scenario did not happen"
    expire_leases(fresh, job_id)
    sweep(fresh)
    make_visible(fresh, messages)
    assert poller.invoke(poller.receive(0)) == []

    by_number = {item["to"]: item for item in recipient_items(fresh, job_id)}
    moved_back = sorted(n for n in delivered if by_number[n]["status"] != "delivered")
    assert not moved_back, (
        f"{len(moved_back)} delivered recipients were overwritten: {by_number[moved_back[0]]}"
    )
    job, _ = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed"


@pytest.mark.timeout(60)
def test_forced_redelivery_of_processed_messages_sends_nothing_and_counts_nothing_twice(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    settings_env(CHUNKS_PER_MESSAGE=1)
    to = numbers(1800)  # three chunks, one queue message each
    job_id = submit(api, to)
    poller = fresh.sender_poller()
    first = receive(fresh, max_messages=1)
    assert poller.invoke(first) == []
    counts = get_job(api, job_id)["counts"]
    assert (counts["submitted"], counts["queued"]) == (600, 1200)
    assert fresh.simulator.stats()["requests"] == 1

    # The same body again while the job is still sending: its chunk is done, so it is skipped.
    enqueue(fresh, first[0]["Body"])
    drain()
    counts = get_job(api, job_id)["counts"]
    assert counts["submitted"] == 1800 and counts["queued"] == 0
    assert fresh.simulator.stats()["requests"] == 3
    # Every message again after the job finished: nothing is sent, nothing counted.
    for index in range(3):
        enqueue(fresh, json.dumps({"job_id": job_id, "chunks": [index]}))
    drain()
    job, _ = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed"
    assert job["counts"]["submitted"] == 1800
    stats = fresh.simulator.stats()
    assert stats["requests"] == 3 and stats["duplicate_sends"] == 0
    assert max(wire.posts_per_number().values()) == 1


@pytest.mark.timeout(60)
def test_the_same_message_delivered_to_two_senders_at_once_is_sent_once(
    api: Any, fresh: LocalStack, settings_env: Any, wire: SimRecorder
) -> None:
    """SQS is at-least-once: two invocations may hold copies of one message at the same time."""
    fresh.simulator.set_faults(latency_ms=150)
    to = numbers(3000)  # five chunks
    job_id = submit(api, to)
    original = receive(fresh)
    assert len(original) == 1
    enqueue(fresh, original[0]["Body"])
    copy = receive(fresh)
    assert len(copy) == 1
    poller = fresh.sender_poller()
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda m=m: results.append(poller.invoke(m))) for m in (original, copy)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [[], []]

    job, _ = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 3000
    stats = fresh.simulator.stats()
    assert stats["requests"] == 5 and stats["duplicate_sends"] == 0
    assert max(wire.posts_per_number().values()) == 1


# ---- 3. account errors stop the job ----------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("fault", "code"), [("auth_fail", "001"), ("no_credit", "301")])
def test_account_error_from_the_first_answer_stops_the_job_early(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder, fault: str, code: str
) -> None:
    threads = 2
    settings_env(SENDER_THREADS=threads)
    fresh.simulator.set_faults(**{fault: True}, latency_ms=50)
    to = numbers(6000)  # ten chunks, one queue message
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "failed", job
    assert job["stop"]["code"] == code and job["stop"]["outcome"] == "failed"
    assert job["counts"]["failed"] == 6000
    for item in by_number.values():
        assert item["status"] == "failed" and item["error_code"] == code, item
        assert item["error"] == job["stop"]["reason"], item
    # "Stops early": the chunks in flight when the first answer came back may finish, nothing after.
    requests = fresh.simulator.stats()["requests"]
    assert requests <= threads + 1, f"{requests} of 10 chunks were POSTed after the account error"


@pytest.mark.timeout(60)
def test_account_error_in_the_middle_of_a_job_stops_the_rest(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    threads = 2
    settings_env(SENDER_THREADS=threads)
    sim = fresh.simulator
    sim.set_faults(latency_ms=50)
    wire.on_call = lambda started_before: sim.set_faults(auth_fail=True) if started_before >= 2 else None
    to = numbers(6000)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "failed" and job["stop"]["code"] == "001", job
    sent_ok = set(wire.accepted_ids())  # the first two requests, answered before the switch
    assert len(sent_ok) == 1200
    for number, item in by_number.items():
        if number in sent_ok:
            assert item["status"] == "submitted", item
        else:
            assert item["status"] == "failed" and item["error_code"] == "001", item
    requests = sim.stats()["requests"]
    assert requests <= 2 + threads + 1, f"{requests} of 10 chunks were POSTed; the job went on after 001"
    assert sim.stats()["duplicate_sends"] == 0


# ---- 4. retries ----------------------------------------------------------------------------------------


def _count_attempts(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """POST attempts per chunk (keyed by its first number), seen from the client side."""
    attempts: Counter[str] = Counter()
    lock = threading.Lock()
    original = ClickatellClient._attempt

    def attempt(self: Any, body: str, chunk: Any) -> Any:
        with lock:
            attempts[chunk[0]] += 1
        return original(self, body, chunk)

    monkeypatch.setattr(ClickatellClient, "_attempt", attempt)
    return attempts


@pytest.mark.timeout(60)
def test_connection_refused_fails_every_number_not_sent_after_exactly_send_attempts(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_env(CLICKATELL_BASE_URL=f"http://127.0.0.1:{closed_port()}", SEND_ATTEMPTS=3)
    attempts = _count_attempts(monkeypatch)
    to = numbers(1200)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed", job
    assert job["counts"]["failed"] == 1200
    for item in by_number.values():
        assert item["status"] == "failed" and item["error_code"] == NOT_SENT_CODE, item
        assert "3 attempts" in item["error"] and "refused" in item["error"], item
    assert dict(attempts) == {to[0]: 3, to[600]: 3}
    assert fresh.simulator.stats()["requests"] == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(lambda: http_error(503), id="503"),
        pytest.param(lambda: http_error(502), id="502"),
        pytest.param(lambda: plain_answer("Too Many Requests\n", 429), id="429"),
        pytest.param(lambda: plain_answer("ERR: 901, Internal error\n"), id="ERR-901"),
    ],
)
def test_refused_before_processing_then_accepted_each_number_sent_once(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder, refusal: Any
) -> None:
    settings_env(SEND_ATTEMPTS=3)
    wire.script = lambda chunk, attempt: refusal() if attempt < 3 else None  # two refusals, then through
    to = numbers(1200)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 1200, job
    ids = wire.accepted_ids()
    assert all(ids[n] == [by_number[n]["api_message_id"]] for n in to)
    assert set(wire.posts_per_number().values()) == {3}  # two refused, one processed
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 1200 and stats["duplicate_sends"] == 0


@pytest.mark.timeout(60)
def test_refused_on_every_attempt_fails_not_sent_and_nothing_reached_clickatell(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    settings_env(SEND_ATTEMPTS=3)
    wire.script = lambda chunk, attempt: http_error(503)
    to = numbers(1200)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["failed"] == 1200, job
    assert all(i["error_code"] == NOT_SENT_CODE and "3 attempts" in i["error"] for i in by_number.values())
    assert set(wire.posts_per_number().values()) == {3}
    assert fresh.simulator.stats()["recipients_accepted"] == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ambiguity", ["504", "timeout", "reset"])
def test_an_attempt_that_may_have_been_processed_is_never_retried(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder, ambiguity: str
) -> None:
    settings_env(**FAST)
    fresh.simulator.configure(stall_seconds=1.5)
    if ambiguity == "504":
        wire.after = lambda chunk, attempt, outcome: http_error(504)
    else:
        fresh.simulator.set_faults(**{ambiguity: 1.0})
    to = numbers(1200)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["unknown"] == 1200, job
    assert all(i["status"] == "unknown" and "not resent" in i["error"] for i in by_number.values())
    assert set(wire.posts_per_number().values()) == {1}
    stats = fresh.simulator.stats()
    assert stats["recipients_accepted"] == 1200 and stats["duplicate_sends"] == 0


# ---- stops, requeues and credit ----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_an_abandoned_stop_claim_is_finished_as_the_stop_not_as_unknown(
    api: Any, fresh: LocalStack, settings_env: Any, wire: SimRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job stops on 001; settling one of its pending chunks dies after the stop claim. After that
    claim's lease the chunk is finished as the stop (failed, 001: nothing was sent), never `unknown`."""
    from bulksms.service import lifecycle

    settings_env(CHUNKS_PER_MESSAGE=1, SENDER_THREADS=1)
    monkeypatch.setattr(lifecycle, "STOP_CLAIM_SECONDS", 1)
    fresh.simulator.set_faults(auth_fail=True)
    to = numbers(3000)  # five chunks, five queue messages
    job_id = submit(api, to)
    original = Store.put_results
    crashed: list[int] = []

    def put_results(self: Any, job: str, chunk: int, results: Any) -> None:
        if chunk != 0 and not crashed:  # chunk 0 is the one that was POSTed
            crashed.append(chunk)
            raise SimulatedCrash("died while settling a stopped chunk")
        original(self, job, chunk, results)

    monkeypatch.setattr(Store, "put_results", put_results)
    first = receive(fresh, max_messages=1)
    assert json.loads(first[0]["Body"])["chunks"] == [0]
    poller = fresh.sender_poller()
    poller.invoke(first)
    assert not crashed
    # The stopped job's next message: settling its chunk dies after the stop claim.
    poller.invoke(receive(fresh, max_messages=1))
    assert crashed, "no stopped chunk was settled"
    assert get_job(api, job_id)["stop"]["code"] == "001"

    time.sleep(2.1)  # the stop claim's lease runs out
    sweep(fresh)
    while batch := poller.receive(0):
        poller.invoke(batch)

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "failed" and job["stop"]["code"] == "001"
    lost = [n for n in to if int(by_number[n]["chunk"]) == crashed[0]]
    assert len(lost) == 600
    assert all(by_number[n]["status"] == "failed" and by_number[n]["error_code"] == "001" for n in lost)
    assert not set(lost) & set(wire.posts_per_number())
    assert fresh.simulator.stats()["requests"] == 1


@pytest.mark.timeout(60)
def test_a_lost_queue_message_is_requeued_by_the_sweeper_and_sent_once(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    settings_env(CHUNKS_PER_MESSAGE=1, REQUEUE_AFTER_SECONDS=0)
    to = numbers(1800)
    job_id = submit(api, to)
    messages = receive(fresh)
    assert len(messages) == 3
    lost, kept = messages[0], messages[1:]
    # One message is gone for good (deleted by mistake, expired); the other two are still in flight.
    from tests.integration.faults import sqs as sqs_client

    sqs_client(fresh).delete_message(
        QueueUrl=fresh.resources.queue_url("SendQueue"), ReceiptHandle=lost["ReceiptHandle"]
    )
    tally = sweep(fresh)
    # Every pending chunk is queued again, including those whose messages are only in flight.
    assert tally.get("requeued_chunks") == 3, tally
    make_visible(fresh, kept)
    drain()

    job, _ = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and job["counts"]["submitted"] == 1800
    assert max(wire.posts_per_number().values()) == 1
    stats = fresh.simulator.stats()
    assert stats["requests"] == 3 and stats["duplicate_sends"] == 0


@pytest.mark.timeout(60)
def test_credit_running_out_inside_a_chunk_does_not_record_sent_numbers_as_failed(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    """900 credits for 1,200 one-part messages: the first chunk goes out, the second runs dry after 300.
    Whatever Clickatell answered, a number it accepted must not be recorded as `failed` (never sent):
    the client would send it again."""
    settings_env(SENDER_THREADS=1)
    fresh.simulator.configure(credit=900)
    to = numbers(1200)
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "failed" and job["stop"]["code"] == "301", job
    accepted = {n for n in to if fresh.simulator.messages_for(n)}
    assert len(accepted) == 900
    recorded_unsent = sorted(n for n in accepted if by_number[n]["status"] == "failed")
    assert not recorded_unsent, (
        f"{len(recorded_unsent)} numbers Clickatell accepted are recorded failed: "
        f"{by_number[recorded_unsent[0]]}; answer was {wire.calls[-1].body!r}"
    )
    counts = job["counts"]
    assert (
        counts["submitted"]
        <= fresh.simulator.stats()["recipients_accepted"]
        <= counts["submitted"] + counts["unknown"]
    )


@pytest.mark.timeout(60)
def test_no_credit_answered_per_number_stops_the_job(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder
) -> None:
    """Clickatell reports running out of credit in a multi-number answer as `ERR: 301, No Credit Left
    To: <n>` per recipient (clickatell-http-api.md, per-recipient errors). That is still the account
    running dry: the rest of the job must stop, not be POSTed chunk after chunk."""
    settings_env(CHUNKS_PER_MESSAGE=1, SENDER_THREADS=1)

    def no_credit_after_the_first(chunk: tuple[str, ...], attempt: int) -> Any:
        if len(wire.calls) == 0:
            return None  # the first chunk goes through
        return plain_answer("".join(f"ERR: 301, No Credit Left To: {n}\n" for n in chunk))

    wire.script = no_credit_after_the_first
    to = numbers(6000)  # ten chunks, ten queue messages
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert sum(1 for i in by_number.values() if i["status"] == "submitted") == 600
    assert all(i["error_code"] == "301" for i in by_number.values() if i["status"] == "failed")
    requests = len(wire.calls)
    assert job["status"] == "failed" and (job.get("stop") or {}).get("code") == "301", (
        f"job {job['status']} with stop {job.get('stop')} after {requests} POSTs, all but one answered 301"
    )
    assert requests <= 3, f"{requests} of 10 chunks were POSTed after the account ran out of credit"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("with_to", [False, True], ids=["without-To", "with-To"])
def test_whole_request_error_fails_its_chunk_and_the_job_goes_on(
    api: Any, fresh: LocalStack, drain: Any, settings_env: Any, wire: SimRecorder, with_to: bool
) -> None:
    """A request-level error that is not about the account (106, once per number as S1 shows it) fails
    that chunk's numbers with the code; the next chunk is still sent and the job completes."""
    settings_env(CHUNKS_PER_MESSAGE=1, SENDER_THREADS=1)
    refused: list[tuple[str, ...]] = []

    def refuse_the_first(chunk: tuple[str, ...], attempt: int) -> Any:
        if wire.calls:
            return None
        refused.append(chunk)
        return plain_answer(
            "".join(
                "ERR: 106, Invalid source address" + (f" To: {n}" if with_to else "") + "\n" for n in chunk
            )
        )

    wire.script = refuse_the_first
    to = numbers(1200)  # two chunks, sent one after the other
    job_id = submit(api, to)

    drain()

    job, by_number = check_every_number_once(fresh, api, job_id, to)
    assert job["status"] == "completed" and not job.get("stop"), job
    assert len(wire.calls) == 2
    (chunk,) = refused
    for number, item in by_number.items():
        if number in chunk:
            assert (item["status"], item["error_code"]) == ("failed", "106"), item
        else:
            assert item["status"] == "submitted", item
