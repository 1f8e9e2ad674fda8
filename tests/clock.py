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
