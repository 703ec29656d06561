"""The most recipients the simulator accepted within any window of a given length (sliding, not
aligned to clock seconds), for `/_sim/stats`: what a rate cap toward Clickatell must bound."""

from __future__ import annotations

from collections import deque


class PeakWindow:
    """Call `add` under the simulator's lock, with a monotonic time that never goes backwards."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._events: deque[tuple[float, int]] = deque()
        self._in_window = 0
        self.peak = 0

    def add(self, now: float, count: int) -> None:
        if count <= 0:
            return
        events = self._events
        # The window ending at `now` holds the events of the last `seconds`; a window's count is
        # highest when it ends at an event, so checking at each event finds the peak of all windows.
        while events and events[0][0] <= now - self.seconds:
            self._in_window -= events.popleft()[1]
        events.append((now, count))
        self._in_window += count
        self.peak = max(self.peak, self._in_window)
