"""Callback time slots: when a satisfaction prompt may go out, and at which different time of day next.

Slots are local times of day, e.g. ``09:00-12:00,14:00-17:30,18:30-20:00`` (morning, afternoon,
evening). With no slots configured, prompts may go out at any time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Slot:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_slots(text: str | None) -> tuple[Slot, ...]:
    """``"09:00-12:00,14:00-17:30"`` → slots in order; empty → no slots. Clear errors otherwise."""
    if text is None or not text.strip():
        return ()
    slots = []
    for part in text.split(","):
        match = _SLOT.match(part)
        if not match:
            raise ValueError(f"invalid time slot {part.strip()!r}; use HH:MM-HH:MM, e.g. 09:00-12:00")
        h1, m1, h2, m2 = map(int, match.groups())
        if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValueError(f"invalid time in slot {part.strip()!r}")
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2)
        if end <= start:
            raise ValueError(f"slot {part.strip()!r} ends before it starts (slots cannot cross midnight)")
        slots.append(Slot(start, end))
    slots.sort(key=lambda s: s.start)
    for earlier, later in zip(slots, slots[1:]):
        if later.start < earlier.end:
            raise ValueError(f"slots {earlier} and {later} overlap")
    return tuple(slots)


def slot_of(moment: datetime, slots: Sequence[Slot], tz: ZoneInfo) -> int | None:
    """Index of the slot containing ``moment`` (local time), or None."""
    local = moment.astimezone(tz).time()
    for index, slot in enumerate(slots):
        if slot.start <= local < slot.end:
            return index
    return None


def _candidates(moment: datetime, slots: Sequence[Slot], tz: ZoneInfo) -> Iterable[tuple[int, datetime, datetime]]:
    """(index, window start, window end) of every slot window from ``moment``'s local day on."""
    day = moment.astimezone(tz).date()
    for offset in range(0, 400):
        current = day + timedelta(days=offset)
        for index, slot in enumerate(slots):
            start = datetime.combine(current, slot.start, tz)
            end = datetime.combine(current, slot.end, tz)
            if end > moment:
                yield index, start, end


def earliest_in_slot(moment: datetime, slots: Sequence[Slot], tz: ZoneInfo, *,
                     avoid: Iterable[int] = ()) -> tuple[datetime, int | None]:
    """The first instant ≥ ``moment`` inside a slot whose index is not in ``avoid``.

    When every slot is to be avoided (more attempts than slots), any slot will do.
    Without slots the moment itself is returned.
    """
    if not slots:
        return moment, None
    avoided = set(avoid)
    if avoided >= set(range(len(slots))):
        avoided = set()
    for index, start, _end in _candidates(moment, slots, tz):
        if index in avoided:
            continue
        return max(start, moment).astimezone(moment.tzinfo), index
    raise ValueError("no callback slot found within a year")  # unreachable with valid slots


def first_attempt_due(resolved_at: datetime, delay: timedelta, slots: Sequence[Slot], tz: ZoneInfo) -> datetime:
    """The first prompt: ``delay`` after resolution, moved into the next slot if it falls outside."""
    return earliest_in_slot(resolved_at + delay, slots, tz)[0]


def next_attempt_due(last_sent_at: datetime, timeout: timedelta, slots: Sequence[Slot], tz: ZoneInfo,
                     used: Iterable[int]) -> datetime:
    """The next prompt: at least ``timeout`` after the last one, in a slot not used in this round."""
    return earliest_in_slot(last_sent_at + timeout, slots, tz, avoid=used)[0]
