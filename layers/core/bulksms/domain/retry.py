"""The one retry policy of the layer: how many tries, how long to pause between them (exponential
backoff with full jitter), and how much time they may take in all.

Every retry loop runs as `for attempt in POLICY.tries(clock, sleep): ...`, breaking out when a try
succeeds. The clock and the sleep are the caller's, so the policy itself does no I/O and tests drive
it without wall time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_JITTER = random.Random()  # noqa: S311 - jitter spreads retries; it guards nothing


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int  # tries in all, the first one included
    base_s: float  # the ceiling of the first pause
    cap_s: float  # no pause is longer
    budget_s: float = math.inf  # no try starts later than this after the first one
    growth: float = 2.0  # each ceiling is this many times the last, up to `cap_s`

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_s < 0 or self.cap_s < 0 or self.budget_s < 0 or self.growth < 1:
            raise ValueError(f"not a retry policy: {self}")

    def ceiling_s(self, retry: int) -> float:
        """The longest pause before retry number `retry` (1-based); a huge number is capped, not an error."""
        return min(self.cap_s, self.base_s * self.growth ** min(retry - 1, 64))

    def pause_s(self, retry: int, rng: random.Random | None = None) -> float:
        """Full jitter: anywhere between 0 and the ceiling, so callers refused together spread out."""
        return (rng or _JITTER).uniform(0.0, self.ceiling_s(retry))

    def tries(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: random.Random | None = None,
    ) -> Iterator[int]:
        """Try numbers 1, 2, ... up to `attempts`, pausing before every one but the first. Ends early
        when the next pause would end past the budget; the caller then handles the last failure."""
        start = clock()
        yield 1
        for retry in range(1, self.attempts):
            pause = self.pause_s(retry, rng)
            if clock() - start + pause > self.budget_s:
                return
            sleep(pause)
            yield retry + 1
