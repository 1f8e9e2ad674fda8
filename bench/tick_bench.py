"""Time of one scheduler tick with few closed tickets against many, in one run.

Run: ``python -m bench.tick_bench [--sizes 1000,1000000] [--backends postgres,sqlite] [--ticks 7]
[--pg-url URL]``

For each backend and each N: a fresh database (PostgreSQL: ``--pg-url``, default the
``bench`` database, dropped and recreated; SQLite: a temporary file), migrated, then filled
with bulk inserts (SQLAlchemy Core executemany, 10k rows a batch): N tickets in "closed", each
with its answered callback round and attempt and its events, plus 50 tickets in "resolved" whose
rounds are in every state the tick looks at but not yet due (skipped or unreachable recently, open
with a pending attempt later today, sent prompts not yet expired), so every tick does the same
work. Then it runs the callback tick (``scheduler.callbacks.CallbackWorker.tick``:
``expire_unanswered``, ``queue_due_prompts``, ``close_due``) and the deadline watch
(``scheduler.sla_watch.SlaWatcher.tick``) ``--ticks`` times each and prints the median per tick
and the best, and the ratios largest N ÷ smallest N of both (the goal: ≤ 1.2; on a busy machine
the best of the ticks is the steadier figure). Figures only; nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.report_bench import postgres_database
from models.db import create_engine, session_factory, upgrade
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, Resident, Staff, Team

DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, inside a callback slot
RESOLVED = 50
BATCH = 10_000


def _complaint(cid: int, status: str, created: datetime, resolved: datetime | None, closed: datetime | None) -> dict:
    return {
        "id": cid, "number": f"B{cid:09d}", "description": "合成工单", "location": f"{cid % 40 + 1}栋",
        "anonymous": False, "photos": [], "team_id": 1, "assignee_id": 1, "accepted_at": created + timedelta(hours=1),
        "sensitive": False, "resolved_on_spot": False, "needs_review": False, "major": False, "pauses": [],
        "response_level": 0, "resolve_level": 0, "respond_by": created + timedelta(hours=4),
        "resolve_by": created + timedelta(days=5), "resident_id": 1 + cid % 100, "category": "工程管理",
        "kind": "投诉", "severity": "general", "status": status, "confidence": 0.8,
        "keywords": [{"term": "电梯", "weight": 1.0, "target": "category:工程管理"}], "flags": [],
        "created_at": created, "updated_at": closed or resolved or created, "resolved_at": resolved,
        "closed_at": closed, "contact_phone": "13800000000", "last_progress_at": resolved,
    }


def _uniform(rows: list[dict]) -> list[dict]:
    """One executemany needs the same keys in every row: the missing ones are NULL."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in keys} for row in rows]


def generate(n: int):
    """Yield (table, rows) batches: N closed tickets with their history, then the 50 resolved ones."""
    yield Team.__table__, [{"id": 1, "code": "engineering", "name": "工程部", "categories": ["工程管理"],
                            "special": False}]
    yield Staff.__table__, [{"id": 1, "name": "张师傅", "role": "staff", "team_id": 1, "active": True,
                             "unreachable": False, "created_at": NOW}]
    yield Resident.__table__, [{"id": i, "telegram_id": i, "chat_id": i, "name": f"业主{i}", "unreachable": False,
                                "created_at": NOW} for i in range(1, 101)]
    complaints, events, rounds, attempts = [], [], [], []
    eid = 0

    def batches():
        nonlocal complaints, events, rounds, attempts
        out = [(t, _uniform(rows)) for t, rows in ((Complaint.__table__, complaints), (ComplaintEvent.__table__, events),
                                         (CallbackRound.__table__, rounds), (CallbackAttempt.__table__, attempts))
               if rows]
        complaints, events, rounds, attempts = [], [], [], []
        return out

    for cid in range(1, n + 1):
        created = NOW - timedelta(days=400) + timedelta(seconds=cid * 30)
        resolved, closed = created + timedelta(days=1), created + timedelta(days=3)
        complaints.append(_complaint(cid, "closed", created, resolved, closed))
        for at, action, frm, to in ((created, "created", None, "new"), (resolved, "resolve", "accepted", "resolved"),
                                    (closed, "close", "resolved", "closed")):
            eid += 1
            events.append({"id": eid, "complaint_id": cid, "at": at, "actor": "staff", "action": action,
                           "from_status": frm, "to_status": to})
        rounds.append({"id": cid, "complaint_id": cid, "round_no": 1, "status": "answered", "opened_at": resolved,
                       "closed_at": resolved + timedelta(days=1), "rating": 5})
        attempts.append({"id": cid, "round_id": cid, "complaint_id": cid, "attempt_no": 1,
                         "due_at": resolved + timedelta(days=1), "state": "answered",
                         "sent_at": resolved + timedelta(days=1)})
        if len(complaints) >= BATCH:
            yield from batches()
    for k in range(RESOLVED):
        cid = n + 1 + k
        created = NOW - timedelta(days=3)
        resolved = NOW - timedelta(days=2)
        complaints.append(_complaint(cid, "resolved", created, resolved, None))
        eid += 1
        events.append({"id": eid, "complaint_id": cid, "at": resolved, "actor": "staff", "action": "resolve",
                       "from_status": "accepted", "to_status": "resolved"})
        state = ("skipped", "unreachable", "open", "sent")[k % 4]
        rounds.append({"id": cid, "complaint_id": cid, "round_no": 1,
                       "status": "open" if state == "sent" else state,
                       "skip_reason": "anonymous" if state == "skipped" else None, "opened_at": resolved,
                       "closed_at": NOW - timedelta(hours=1) if state in ("skipped", "unreachable") else None})
        if state == "open":
            attempts.append({"id": cid, "round_id": cid, "complaint_id": cid, "attempt_no": 1,
                             "due_at": NOW + timedelta(hours=5), "state": "pending"})
        elif state == "sent":
            attempts.append({"id": cid, "round_id": cid, "complaint_id": cid, "attempt_no": 1,
                             "due_at": NOW - timedelta(minutes=30), "state": "sent",
                             "sent_at": NOW - timedelta(minutes=30)})
    yield from batches()


async def fill(url: str, n: int) -> float:
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            for table, rows in generate(n):
                await conn.execute(insert(table), rows)
            if engine.dialect.name == "postgresql":
                for table in ("team", "staff", "resident", "complaint", "complaint_event", "callback_round",
                              "callback_attempt"):
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
                await conn.exec_driver_sql("CHECKPOINT")  # the bulk load's writes out of the way of the timing
        else:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def time_ticks(url: str, ticks: int) -> dict[str, float]:
    from bot.settings import Settings
    from scheduler.callbacks import CallbackWorker
    from scheduler.sla_watch import SlaWatcher
    from services.satisfaction import CallbackPolicy
    from services.sla import SlaPolicy

    settings = Settings(_env_file=None, database_url=url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = lambda: NOW  # noqa: E731 - the pinned "now" of the data
    callbacks = CallbackWorker(sessions, CallbackPolicy.from_settings(settings), clock=clock)
    watch = SlaWatcher(sessions, SlaPolicy.from_settings(settings), nudge_after=settings.progress_nudge_after,
                       major_after=settings.major_after, clock=clock)
    out: dict[str, float] = {}
    try:
        for name, worker in (("callback tick", callbacks), ("deadline watch", watch)):
            await worker.tick()  # warm: connections, statement caches
            times = []
            for _ in range(ticks):
                started = time.perf_counter()
                result = await worker.tick()
                times.append(time.perf_counter() - started)
            if name == "callback tick" and any(result.values()):
                print(f"    ! the tick did work: {result} (the data should leave nothing due)", flush=True)
            out[name] = statistics.median(times)
            out[name + " (best)"] = min(times)
    finally:
        await engine.dispose()
    return out


async def main(args) -> None:
    sizes = sorted(args.sizes)
    print(f"tick bench: {', '.join(f'{n:,}' for n in sizes)} closed tickets + {RESOLVED} resolved; "
          f"median and best of {args.ticks} ticks; python {sys.version.split()[0]}", flush=True)
    for backend in args.backends:
        results = {}
        for n in sizes:
            if backend == "postgres":
                url = await postgres_database(args.pg_url, args.pg_url.rsplit("/", 1)[1])
            elif backend == "sqlite":
                url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='tick-bench-')}/bench.db"
            else:
                raise SystemExit(f"unknown backend {backend!r} (postgres, sqlite)")
            await upgrade(url)
            filled = await fill(url, n)
            results[n] = await time_ticks(url, args.ticks)
            print(f"{backend:9} N={n:>9,}  filled in {filled:6.1f} s  " + "  ".join(
                f"{name} {seconds * 1000:8.2f} ms" for name, seconds in results[n].items()), flush=True)
        small, large = sizes[0], sizes[-1]
        for name in results[small]:  # median and best
            print(f"{backend:9} {name:15} {large:,} ÷ {small:,} closed: "
                  f"{results[large][name] * 1000:.2f} ms / {results[small][name] * 1000:.2f} ms = "
                  f"{results[large][name] / results[small][name]:.2f}", flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x.strip()],
                        default=[1000, 1_000_000])
    parser.add_argument("--backends", type=lambda s: [b.strip() for b in s.split(",") if b.strip()],
                        default=["postgres"], help="postgres,sqlite")
    parser.add_argument("--ticks", type=int, default=15)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and recreated (env BENCH_POSTGRES_URL)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
