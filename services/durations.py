"""Parse human durations such as ``90s``, ``4h``, ``1d``, ``1h30m`` or ``3y`` used everywhere in settings."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "s": "seconds", "sec": "seconds",
    "m": "minutes", "min": "minutes",
    "h": "hours", "d": "days", "w": "weeks", "y": "years",
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(sec|min|s|m|h|d|w|y)", re.IGNORECASE)
DAYS_PER_YEAR = 365


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Turn ``"90s"``, ``"4h"``, ``"1d"``, ``"1h30m"`` or plain seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty duration; use e.g. 90s, 30min, 4h, 1d")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    parts = _PART.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts).lower() != re.sub(r"\s+", "", text).lower():
        raise ValueError(f"invalid duration {value!r}; use e.g. 90s, 30min, 4h, 1d or 1h30m")
    total = timedelta()
    for number, unit in parts:
        name = _UNITS[unit.lower()]
        if name == "years":  # retention periods: a year is 365 days
            name, number = "days", float(number) * DAYS_PER_YEAR
        total += timedelta(**{name: float(number)})
    return total
