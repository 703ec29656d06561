"""The retry policy: pauses within their bounds, tries within the attempts and the budget, no wall time."""

from __future__ import annotations

import math
import random

import pytest
from bulksms.adapters.clickatell import SEND_RETRY
from bulksms.domain.retry import RetryPolicy
from hypothesis import given
from hypothesis import strategies as st


class FakeTime:
    """A clock that only moves when something sleeps or a try takes time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


policies = st.builds(
    RetryPolicy,
    attempts=st.integers(1, 30),
    base_s=st.floats(0, 5),
    cap_s=st.floats(0, 60),
    budget_s=st.one_of(st.just(math.inf), st.floats(0, 120)),
    growth=st.floats(1, 8),
)


@given(policy=policies, retry=st.integers(1, 10_000), seed=st.integers(0, 2**32 - 1))
def test_a_pause_stays_within_full_jitter_bounds(policy: RetryPolicy, retry: int, seed: int) -> None:
    pause = policy.pause_s(retry, random.Random(seed))
    assert 0.0 <= pause <= policy.ceiling_s(retry) <= policy.cap_s


@given(policy=policies, try_s=st.floats(0, 10), seed=st.integers(0, 2**32 - 1))
def test_tries_respect_the_attempts_and_the_budget(policy: RetryPolicy, try_s: float, seed: int) -> None:
    fake = FakeTime()
    start = fake.now
    started: list[float] = []
    for number in policy.tries(fake.clock, fake.sleep, random.Random(seed)):
        assert number == len(started) + 1
        started.append(fake.now)
        fake.now += try_s  # the try itself takes time too
    assert 1 <= len(started) <= policy.attempts
    assert len(fake.pauses) == len(started) - 1
    assert all(start_at - start <= policy.budget_s + 1e-9 for start_at in started[1:])
    assert all(0 <= p <= policy.ceiling_s(i) for i, p in enumerate(fake.pauses, start=1))


def test_every_attempt_is_made_when_the_budget_allows() -> None:
    fake = FakeTime()
    tries = list(RetryPolicy(attempts=4, base_s=1, cap_s=1).tries(fake.clock, fake.sleep))
    assert tries == [1, 2, 3, 4] and len(fake.pauses) == 3


def test_a_try_that_would_start_past_the_budget_is_not_made() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    fake = FakeTime()
    policy = RetryPolicy(attempts=10, base_s=1, cap_s=100, budget_s=6)
    tries = list(policy.tries(fake.clock, fake.sleep, Top()))
    assert fake.pauses == [1, 2] and tries == [1, 2, 3]  # a pause of 4 would end at 7 s > 6 s


def test_the_send_policy_ceilings_double_up_to_four_seconds() -> None:
    assert [SEND_RETRY.ceiling_s(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert SEND_RETRY.ceiling_s(5000) == 4.0  # a large SEND_ATTEMPTS is capped, not an error


def test_pauses_are_jittered() -> None:
    assert len({SEND_RETRY.pause_s(3) for _ in range(50)}) > 1


@pytest.mark.parametrize(
    "bad",
    [{"attempts": 0}, {"base_s": -1.0}, {"cap_s": -1.0}, {"budget_s": -1.0}, {"growth": 0.5}],
)
def test_a_policy_that_cannot_run_is_refused(bad: dict[str, float]) -> None:
    fields = {"attempts": 3, "base_s": 0.1, "cap_s": 1.0, **bad}
    with pytest.raises(ValueError, match="not a retry policy"):
        RetryPolicy(**fields)  # type: ignore[arg-type]
