"""Calls per second of working-time arithmetic (``services.worktime``).

Run: ``python -m bench.worktime_bench [--calls N] [--repeat R]``

Measures ``WorkCalendar.add`` / ``add_working_days`` / ``between`` and ``due`` with a pause,
on the real mainland-China calendar with split shifts, for short spans (a few hours) and long
spans (30 working days).  Start instants are spread over 2025-2026 so that the per-day cache
is exercised realistically.  Each figure is the best of ``--repeat`` runs.  Figures only:
nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.worktime import Allowance, WorkCalendar, due

SH = ZoneInfo("Asia/Shanghai")


def _starts(n: int) -> list[datetime]:
    base = datetime(2025, 1, 1, tzinfo=SH)
    return [base + timedelta(minutes=(i * 7919) % (600 * 24 * 60)) for i in range(n)]


def _rate(fn, starts: list[datetime], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for s in starts:
            fn(s)
        best = min(best, time.perf_counter() - t0)
    return len(starts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    cal = WorkCalendar("09:00-12:00,13:30-18:00")
    starts = _starts(args.calls)
    paused = Allowance(working_days=3)
    cases = {
        "add 4h": lambda s: cal.add(s, timedelta(hours=4)),
        "add_working_days 2": lambda s: cal.add_working_days(s, 2),
        "add_working_days 30": lambda s: cal.add_working_days(s, 30),
        "between 3 days": lambda s: cal.between(s, s + timedelta(days=3)),
        "between 45 days": lambda s: cal.between(s, s + timedelta(days=45)),
        "due 3wd + 2 pauses": lambda s: due(
            cal, s, paused,
            pauses=[(s + timedelta(hours=5), s + timedelta(hours=30)), (s + timedelta(days=2), None)],
            now=s + timedelta(days=3),
        ),
    }
    print(f"{'operation':<24}{'calls/s':>12}")
    for name, fn in cases.items():
        print(f"{name:<24}{_rate(fn, starts, args.repeat):>12,.0f}")


if __name__ == "__main__":
    main()
