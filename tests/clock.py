"""A pinned clock for tests: no assertion may depend on the machine's time of day."""

from __future__ import annotations

from datetime import datetime, timedelta


class PinnedClock:
    """Callable like ``utcnow``; stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("pin the clock with an aware datetime")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return self.now


class FlowingClock:
    """Starts at a pinned moment and then runs with real elapsed time (monotonic): timeouts and
    waits behave as usual, but what "now" is never depends on when the suite runs."""

    def __init__(self, start: datetime) -> None:
        import time

        if start.tzinfo is None:
            raise ValueError("pin the clock with an aware datetime")
        self._start, self._t0, self._monotonic = start, time.monotonic(), time.monotonic

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=self._monotonic() - self._t0)


# A Thursday morning in working hours, Asia/Shanghai: where every e2e test's clock starts.
E2E_START = datetime(2026, 11, 26, 2, 0, tzinfo=__import__("datetime").timezone.utc)  # 10:00 in Shanghai
