"""CPU time of filing one complaint (the intake's submit use case), alone, one after another.

Run: ``python -m bench.filing_bench [--complaints 200] [--backends postgres,sqlite] [--staff 0] [--pg-url URL]``

For each backend: a fresh database (PostgreSQL: ``--pg-url``, default the ``bench_filing``
database, dropped and recreated; SQLite: a temporary file), migrated, the teams seeded, 50
residents; then ``services.filing.file_complaint`` files ``--complaints`` complaints (the chat
messages of ``bench/chat_messages.txt`` at five locations, so some are merged and some become
major, as in ``intake_bench``), one at a time, each in its own session, after 20 not timed.
``--staff N`` binds N staff members per team first (as ``intake_bench --staff``), so tickets are
assigned; with 0 (the default) every ticket waits in its team's queue.
Printed: CPU ms per filing (``time.process_time``: this process's share, the driver's and the
database server's not included), SQL statements per filing, and the CPU ms of each step (the
same-matter check, the number's reservation on PostgreSQL — its commit is counted under the
commit too —, the INSERT (with the number on SQLite), routing, the major's steps, the commits), measured by
wrapping those functions for the run (those of them the code has: the same bench measures an earlier
checkout too). Without the intake's concurrency this is the steadier figure
for the filing's own cost. Figures only; nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event

from bench.report_bench import postgres_database

DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
RESIDENTS = 50
WARM_UP = 20
LOCATIONS = ["3栋1单元1202", "5号楼803", "地下车库B2区", "小区北门", "12栋2单元601"]
MESSAGES = [line.strip() for line in Path(__file__).with_name("chat_messages.txt").read_text("utf-8").splitlines()
            if line.strip()]


def _timed(module, name: str, spent: collections.Counter) -> None:
    """Wrap ``module.name`` (a coroutine function) to add its CPU time to ``spent[name]``."""
    original = getattr(module, name)

    @functools.wraps(original)
    async def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return await original(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    setattr(module, name, wrapper)


async def bench(database_url: str, complaints: int, staff: int = 0) -> dict:
    from bot.settings import Settings
    from models.db import create_engine, session_factory, upgrade
    from models.tables import ComplaintCreate
    from sqlmodel.ext.asyncio.session import AsyncSession

    from services import lifecycle, majors, matters, numbering, routing
    from services.classify import get_classifier
    from services.filing import MatterRules, file_complaint
    from services.sla import SlaPolicy
    from services.staff import seed_teams

    await upgrade(database_url, separate_process=True)
    classifier = get_classifier()
    classifier.classify("电梯坏了")
    engine = create_engine(database_url, pool_size=5)
    statements = [0]
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda *_args: statements.__setitem__(0, statements[0] + 1))
    sessions = session_factory(engine)
    sla = SlaPolicy.from_settings(Settings(bot_token="1:bench", _env_file=None))
    tz = ZoneInfo("Asia/Shanghai")
    async with sessions() as session:
        await seed_teams(session)
        await session.commit()
    if staff:
        from bench.intake_bench import _seed_staff

        await _seed_staff(sessions, staff)
    residents = []
    async with sessions() as session:
        for n in range(RESIDENTS):
            profile = lifecycle.ResidentProfile(telegram_id=1000 + n, chat_id=1000 + n, name=f"住户{n}")
            residents.append(await lifecycle.get_or_create_resident(session, profile))

    async def file(k: int) -> None:
        resident = residents[k % RESIDENTS]
        text = MESSAGES[k % len(MESSAGES)]
        async with sessions() as session:
            session.add(resident)
            await file_complaint(
                session, resident=resident, classification=classifier.classify(text), classifier=classifier,
                data=ComplaintCreate(description=text, location=LOCATIONS[k % len(LOCATIONS)],
                                     contact_phone="13800000000"),
                draft_key=f"{resident.telegram_id}:{k}", tz=tz, sla=sla, rules=MatterRules(),
                now=NOW + timedelta(seconds=k))

    spent: collections.Counter = collections.Counter()
    for module, name in ((matters, "check"), (numbering, "reserve_ticket_number"),
                         (lifecycle, "create_complaint"), (lifecycle, "store_complaint"), (routing, "route"),
                         (routing, "choose_route"), (routing, "assign"),
                         (matters, "mark_major"), (majors, "take_charge"), (AsyncSession, "commit")):
        if hasattr(module, name):
            _timed(module, name, spent)
    try:
        for k in range(WARM_UP):
            await file(k)
        spent.clear()
        statements[0] = 0
        started = time.process_time()
        for k in range(WARM_UP, WARM_UP + complaints):
            await file(k)
        cpu = time.process_time() - started
    finally:
        await engine.dispose()
    return {"cpu": cpu, "statements": statements[0], "spent": dict(spent)}


async def main(args) -> None:
    for backend in args.backends:
        if backend == "postgres":
            url = await postgres_database(args.pg_url, "bench_filing")
        elif backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='filing-bench-')}/bench.db"
        else:
            raise SystemExit(f"unknown backend {backend!r} (postgres, sqlite)")
        result = await bench(url, args.complaints, args.staff)
        n = args.complaints
        print(f"{backend:9} {1000 * result['cpu'] / n:6.2f} CPU ms per filing, "
              f"{result['statements'] / n:.2f} SQL statements per filing ({n} filings)")
        for name, seconds in sorted(result["spent"].items(), key=lambda item: -item[1]):
            print(f"          {name:20} {1000 * seconds / n:6.2f} ms")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=200)
    parser.add_argument("--staff", type=int, default=0,
                        help="bound staff members per team (default 0: every ticket waits in its team's queue)")
    parser.add_argument("--backends", type=lambda s: [b.strip() for b in s.split(",") if b.strip()],
                        default=["postgres", "sqlite"])
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="its server hosts the bench_filing database "
                                                             "(env BENCH_POSTGRES_URL)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
