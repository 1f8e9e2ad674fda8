"""Working-time arithmetic for ticket deadlines.

Working time is the part of the timeline that falls inside the configured
working hours (``WORK_HOURS``, e.g. ``09:00-18:00`` or the split shift
``09:00-12:00,13:30-18:00``) on working days.  Working days come from a
:class:`DayCalendar`; the default one is :class:`ChinaMainlandDays`, backed by
the ``chinesecalendar`` package, which knows mainland-China public holidays
*and* the adjusted working days (调休) on which a weekend day is worked.  For a
year the library has no data for yet, the calendar falls back to "Monday to
Friday" and logs a warning once per year and process.

Rules used throughout:

* All datetimes must be timezone-aware; naive ones raise ``ValueError``.
  Results are returned in the calendar's time zone.
* Working hours are local wall-clock times in the calendar's zone, but every
  duration is real elapsed time (arithmetic is done in UTC), so a shift that
  spans a DST jump is one hour shorter or longer on that day.
* Shifts are half-open: with ``09:00-18:00`` the instant 18:00 is outside
  working hours, but a deadline that uses up the day's last minute lands on
  18:00 (the earliest instant at which the allowance is used up).
* :func:`due` computes deadlines with pauses ("waiting for resident"); see its
  docstring for the exact semantics.

The code walks the timeline one working-day interval at a time, never minute by
minute, and caches each day's intervals.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "Allowance",
    "ChinaMainlandDays",
    "DayCalendar",
    "WeekdayDays",
    "WorkCalendar",
    "due",
    "elapsed",
    "parse_work_hours",
]

log = logging.getLogger(__name__)

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WORK_HOURS = "09:00-18:00"

# Give up after this many consecutive days without any working time: a calendar
# that never works would otherwise make ``add`` loop forever.
_MAX_IDLE_DAYS = 3660
_DAY_CACHE_LIMIT = 8192

Shift = tuple[time, time]

# Years for which the weekend-only fallback has already been logged.
_fallback_logged: set[int] = set()


# --------------------------------------------------------------------------- #
# Working hours
# --------------------------------------------------------------------------- #

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_RANGE_SEP = re.compile(r"\s*[-–—~～－]\s*")
_LIST_SEP = re.compile(r"\s*[,;，；]\s*")


def _parse_clock(text: str, whole: str) -> time:
    match = _CLOCK.fullmatch(text)
    if not match:
        raise ValueError(f"invalid time {text!r} in work hours {whole!r}; use HH:MM, e.g. 09:00-18:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"time {text!r} out of range in work hours {whole!r}; use 00:00 to 23:59")
    return time(hour, minute)


def _validate_shifts(shifts: Iterable[Shift], source: str) -> tuple[Shift, ...]:
    checked: list[Shift] = []
    for start, end in shifts:
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"work hours {source!r}: each shift must be a pair of datetime.time")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"work hours {source!r}: shift times must be naive local times")
        if end <= start:
            raise ValueError(
                f"work hours {source!r}: shift {start:%H:%M}-{end:%H:%M} must end after it starts "
                "(shifts across midnight are not supported)"
            )
        checked.append((start, end))
    if not checked:
        raise ValueError(f"work hours {source!r}: at least one shift is required, e.g. 09:00-18:00")
    checked.sort()
    for (s1, e1), (s2, e2) in zip(checked, checked[1:]):
        if s2 < e1:
            raise ValueError(
                f"work hours {source!r}: shifts {s1:%H:%M}-{e1:%H:%M} and {s2:%H:%M}-{e2:%H:%M} overlap"
            )
    return tuple(checked)


def parse_work_hours(text: str) -> tuple[Shift, ...]:
    """Parse ``"09:00-12:00,13:30-18:00"`` into sorted ``(start, end)`` local-time pairs.

    Raises ``ValueError`` on bad format, a shift that does not end after it
    starts, or overlapping shifts.  Touching shifts (``09:00-12:00,12:00-18:00``)
    are allowed.
    """
    if not isinstance(text, str):
        raise ValueError(f"work hours must be a string like 09:00-18:00, got {type(text).__name__}")
    whole = text.strip()
    if not whole:
        raise ValueError("empty work hours; use e.g. 09:00-18:00 or 09:00-12:00,13:30-18:00")
    shifts: list[Shift] = []
    for part in _LIST_SEP.split(whole):
        bounds = _RANGE_SEP.split(part)
        if len(bounds) != 2 or not all(bounds):
            raise ValueError(
                f"invalid shift {part!r} in work hours {whole!r}; use HH:MM-HH:MM, e.g. 09:00-18:00"
            )
        shifts.append((_parse_clock(bounds[0], whole), _parse_clock(bounds[1], whole)))
    return _validate_shifts(shifts, whole)


# --------------------------------------------------------------------------- #
# Day calendars
# --------------------------------------------------------------------------- #


@runtime_checkable
class DayCalendar(Protocol):
    """Tells whether a date is a working day."""

    def is_working_day(self, day: date) -> bool | None:
        """True or False, or None when the calendar has no data for that date's year."""
        ...


class ChinaMainlandDays:
    """Mainland-China working days from ``chinesecalendar``: holidays off, 调休 weekend days on."""

    def is_working_day(self, day: date) -> bool | None:
        """Working day per the State Council schedule, or None for a year the library does not know."""
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return None


class WeekdayDays:
    """Monday to Friday, no holidays; also the fallback for unknown years."""

    def is_working_day(self, day: date) -> bool | None:
        """True from Monday to Friday."""
        return day.weekday() < 5


# --------------------------------------------------------------------------- #
# Working calendar
# --------------------------------------------------------------------------- #


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_non_negative(amount: timedelta, name: str) -> None:
    if not isinstance(amount, timedelta):
        raise ValueError(f"{name} must be a timedelta, got {type(amount).__name__}")
    if amount < timedelta(0):
        raise ValueError(f"{name} must not be negative, got {amount}")


class WorkCalendar:
    """Working hours on working days in one time zone."""

    def __init__(
        self,
        work_hours: str | Sequence[Shift] = DEFAULT_WORK_HOURS,
        tz: ZoneInfo = SHANGHAI,
        days: DayCalendar | None = None,
    ) -> None:
        if isinstance(work_hours, str):
            self.shifts = parse_work_hours(work_hours)
        else:
            self.shifts = _validate_shifts(work_hours, ",".join(f"{s}-{e}" for s, e in work_hours))
        self.tz = tz
        self.days: DayCalendar = days if days is not None else ChinaMainlandDays()
        self._fallback = WeekdayDays()
        self._intervals: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def __repr__(self) -> str:
        hours = ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.shifts)
        return f"WorkCalendar({hours!r}, tz={self.tz.key if hasattr(self.tz, 'key') else self.tz!r})"

    @property
    def day_length(self) -> timedelta:
        """Nominal working time of one working day (sum of shift lengths)."""
        total = timedelta(0)
        for start, end in self.shifts:
            total += datetime.combine(date.min, end) - datetime.combine(date.min, start)
        return total

    def is_working_day(self, day: date) -> bool:
        """Whether the local date is a working day; weekends-only fallback for unknown years."""
        if isinstance(day, datetime):
            day = day.date()
        answer = self.days.is_working_day(day)
        if answer is None:
            if day.year not in _fallback_logged:
                _fallback_logged.add(day.year)
                log.warning(
                    "holiday calendar has no data for %d; counting Monday-Friday as working days "
                    "(update the holiday library)", day.year,
                )
            return bool(self._fallback.is_working_day(day))
        return bool(answer)

    # -- internals ---------------------------------------------------------- #

    def _day(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working intervals as UTC instants (empty on a day off); cached."""
        cached = self._intervals.get(day)
        if cached is not None:
            return cached
        if self.is_working_day(day):
            result = []
            for start, end in self.shifts:
                a = datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
                b = datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC)
                if b > a:
                    result.append((a, b))
            intervals = tuple(result)
        else:
            intervals = ()
        if len(self._intervals) >= _DAY_CACHE_LIMIT:
            self._intervals.clear()
        self._intervals[day] = intervals
        return intervals

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _add_utc(self, start: datetime, amount: timedelta) -> datetime:
        """``add`` on UTC instants, no validation."""
        if amount <= timedelta(0):
            return start
        remaining = amount
        day = self._local_date(start)
        idle = 0
        while True:
            intervals = self._day(day)
            if intervals:
                idle = 0
                for a, b in intervals:
                    if b <= start:
                        continue
                    s = a if a > start else start
                    available = b - s
                    if remaining <= available:
                        return s + remaining
                    remaining -= available
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise RuntimeError(f"no working day found in {_MAX_IDLE_DAYS} days after {day}")
            day += timedelta(days=1)

    def _between_utc(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end]`` for UTC instants with start <= end."""
        total = timedelta(0)
        if end <= start:
            return total
        day = self._local_date(start)
        last = self._local_date(end)
        while day <= last:
            for a, b in self._day(day):
                s = a if a > start else start
                e = b if b < end else end
                if e > s:
                    total += e - s
            day += timedelta(days=1)
        return total

    # -- public API ------------------------------------------------------- #

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """Earliest instant at which ``amount`` of working time has passed since ``start``."""
        begin = _require_aware(start, "start")
        _require_non_negative(amount, "amount")
        return self._add_utc(begin, amount).astimezone(self.tz)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Add ``days`` × the working-day length of working time (Fri 17:30 + 2 → Tue 17:30)."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"days must be a non-negative integer, got {days!r}")
        return self.add(start, self.day_length * days)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed between two instants; negative if ``end`` is before ``start``."""
        a = _require_aware(start, "start")
        b = _require_aware(end, "end")
        if b < a:
            return -self._between_utc(b, a)
        return self._between_utc(a, b)

    def next_working_instant(self, moment: datetime) -> datetime:
        """``moment`` itself if inside working hours, else the start of the next shift."""
        instant = _require_aware(moment, "moment")
        day = self._local_date(instant)
        idle = 0
        while True:
            intervals = self._day(day)
            for a, b in intervals:
                if instant < b:
                    return (a if a > instant else instant).astimezone(self.tz)
            idle = 0 if intervals else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise RuntimeError(f"no working day found in {_MAX_IDLE_DAYS} days after {day}")
            day += timedelta(days=1)

    def is_working_instant(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside working hours on a working day."""
        instant = _require_aware(moment, "moment")
        return any(a <= instant < b for a, b in self._day(self._local_date(instant)))


# --------------------------------------------------------------------------- #
# Deadlines
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Allowance:
    """How much time a ticket gets: a duration or a number of working days.

    ``wall_clock=True`` (urgent tickets) counts plain elapsed time around the
    clock; it only goes with ``amount``.
    """

    amount: timedelta | None = None
    working_days: int | None = None
    wall_clock: bool = False

    def __post_init__(self) -> None:
        if (self.amount is None) == (self.working_days is None):
            raise ValueError("Allowance needs exactly one of amount or working_days")
        if self.amount is not None:
            _require_non_negative(self.amount, "amount")
        if self.working_days is not None:
            if isinstance(self.working_days, bool) or not isinstance(self.working_days, int) or self.working_days < 0:
                raise ValueError(f"working_days must be a non-negative integer, got {self.working_days!r}")
            if self.wall_clock:
                raise ValueError("a wall-clock allowance takes amount, not working_days")

    def budget(self, calendar: WorkCalendar) -> timedelta:
        """The allowance as a duration (working time, or wall time if wall_clock)."""
        if self.amount is not None:
            return self.amount
        return calendar.day_length * (self.working_days or 0)


def _wall_between(start: datetime, end: datetime) -> timedelta:
    return end - start


def _wall_add(start: datetime, amount: timedelta) -> datetime:
    return start + amount


def _normalise_pauses(
    pauses: Sequence[tuple[datetime, datetime | None]], begin: datetime, now: datetime | None
) -> list[tuple[datetime, datetime]]:
    """Validate, close open pauses at ``now``, clip to ``begin`` and merge; UTC, sorted."""
    closed: list[tuple[datetime, datetime]] = []
    now_utc: datetime | None = None
    for index, pause in enumerate(pauses):
        try:
            p_start, p_end = pause
        except (TypeError, ValueError):
            raise ValueError(f"pause #{index} must be a (start, end-or-None) pair") from None
        a = _require_aware(p_start, f"pause #{index} start")
        if p_end is None:
            if now_utc is None:
                now_utc = _require_aware(now, "now") if now is not None else datetime.now(UTC)
            b = now_utc
        else:
            b = _require_aware(p_end, f"pause #{index} end")
            if b < a:
                raise ValueError(f"pause #{index} ends before it starts: {p_start} > {p_end}")
        if a < begin:
            a = begin
        if b > a:
            closed.append((a, b))
    closed.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in closed:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def due(
    calendar: WorkCalendar,
    start: datetime,
    allowance: Allowance,
    *,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
    now: datetime | None = None,
) -> datetime:
    """Deadline for ``allowance`` counted from ``start``, with the clock stopped during pauses.

    The clock is a stopwatch that runs from ``start`` on working time (or on
    wall time for a ``wall_clock`` allowance) except inside ``pauses``; the
    deadline is the earliest instant at which it reaches the allowance.  So a
    pause extends the deadline by the working time it covers, a pause outside
    working hours changes nothing, and a pause that begins after the deadline
    has already passed does not move it (an overdue ticket stays overdue).

    A pause with end ``None`` is still open: it is treated as lasting until
    ``now`` and the clock as resuming at ``now``.  Calling ``due`` again later
    with the same open pause therefore gives a later deadline, i.e. the
    deadline keeps moving while the ticket waits on the resident.  ``now``
    defaults to the current time and is read only when an open pause exists.
    Overlapping pauses are merged; parts before ``start`` are ignored.
    """
    if not isinstance(allowance, Allowance):
        raise ValueError(f"allowance must be an Allowance, got {type(allowance).__name__}")
    begin = _require_aware(start, "start")
    remaining = allowance.budget(calendar)
    measure = _wall_between if allowance.wall_clock else calendar._between_utc
    advance = _wall_add if allowance.wall_clock else calendar._add_utc
    cursor = begin
    for p_start, p_end in _normalise_pauses(pauses, begin, now):
        if p_start > cursor:
            running = measure(cursor, p_start)
            if remaining <= running:
                break
            remaining -= running
        if p_end > cursor:
            cursor = p_end
    return advance(cursor, remaining).astimezone(calendar.tz)


def elapsed(
    calendar: WorkCalendar,
    start: datetime,
    end: datetime,
    *,
    wall_clock: bool = False,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> timedelta:
    """Clock time used between ``start`` and ``end`` outside pauses (open pauses run to ``end``).

    This is the stopwatch of :func:`due`: ``elapsed(c, s, due(c, s, a, ...)) == a``'s budget.
    """
    begin = _require_aware(start, "start")
    finish = _require_aware(end, "end")
    if finish <= begin:
        return timedelta(0)
    measure = _wall_between if wall_clock else calendar._between_utc
    total = timedelta(0)
    cursor = begin
    for p_start, p_end in _normalise_pauses(pauses, begin, finish):
        if p_start >= finish:
            break
        if p_start > cursor:
            total += measure(cursor, p_start)
        cursor = max(cursor, p_end)
        if cursor >= finish:
            return total
    return total + measure(cursor, finish)
