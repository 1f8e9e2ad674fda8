"""CPU of one statement on PostgreSQL, six ways: SQLAlchemy's ORM, Core through the session, Core on
the session's connection, the ORM's and Core's statement built once (bound parameters), and
asyncpg itself on that same connection.

Run: ``python -m bench.statement_bench [--statements 2000] [--pg-url URL]``

A fresh database (``bench_statement`` on the server of ``--pg-url``, dropped and recreated),
migrated, one ticket filed; then, in one transaction rolled back at the end, the same UPDATE of that
ticket (``updated_at`` of the row with its id and status) ``--statements`` times each way, after 200
not timed. Printed: CPU µs per statement (``time.process_time``: this process's share; the server's
not included) and each way's multiple of asyncpg's. The filing, the delivery and the handlers' reads
go through the first two ways; ``bench.intake_profile`` shows what that costs per update. Figures
only; nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update

from bench.filing_bench import DEFAULT_PG, LOCATIONS, MESSAGES
from bench.report_bench import postgres_database

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
WARM_UP = 200
RAW_SQL = ("UPDATE complaint SET updated_at = $1::TIMESTAMP WITH TIME ZONE "
           "WHERE complaint.id = $2::INTEGER AND complaint.status = $3::VARCHAR")


async def _file_one(sessions) -> tuple[int, str]:
    """A ticket to update: filed as the intake files one. Returns its id and status."""
    from models.tables import ComplaintCreate
    from services import lifecycle
    from services.classify import get_classifier
    from services.filing import MatterRules, file_complaint
    from services.staff import seed_teams

    classifier = get_classifier()
    async with sessions() as session:
        await seed_teams(session)
        await session.commit()
    async with sessions() as session:
        resident = await lifecycle.get_or_create_resident(
            session, lifecycle.ResidentProfile(telegram_id=1000, chat_id=1000, name="住户"))
        filing = await file_complaint(
            session, resident=resident, classification=classifier.classify(MESSAGES[0]), classifier=classifier,
            data=ComplaintCreate(description=MESSAGES[0], location=LOCATIONS[0], contact_phone="13800000000"),
            draft_key="1000:0", tz=ZoneInfo("Asia/Shanghai"), sla=None, rules=MatterRules(), now=NOW)
        return filing.complaint.id, filing.complaint.status


def ways(complaint_id: int, status: str) -> dict:
    """The six ways of sending the same UPDATE, each ``async (session, n)`` (n: the n-th time)."""
    from models.db import set_clause, set_values
    from models.tables import Complaint

    table = Complaint.__table__

    def at(n: int) -> datetime:
        return NOW + timedelta(seconds=n)

    async def orm(session, n: int) -> int:
        result = await session.exec(update(Complaint).where(Complaint.id == complaint_id, Complaint.status == status)
                                    .values(updated_at=at(n)).execution_options(synchronize_session=False))
        return result.rowcount

    async def core(session, n: int) -> int:
        result = await session.exec(update(table).where(table.c.id == complaint_id, table.c.status == status)
                                    .values(updated_at=at(n)))
        return result.rowcount

    async def connection(session, n: int) -> int:
        conn = await session.connection()
        result = await conn.execute(update(table).where(table.c.id == complaint_id, table.c.status == status)
                                    .values(updated_at=at(n)))
        return result.rowcount

    # Built once with bound parameters, as the hot path's statements are (models.db.set_clause):
    # no clauses constructed and no cache key derived per call.
    orm_once = (update(Complaint).where(Complaint.id == bindparam("ticket"), Complaint.status == bindparam("current"))
                .values(set_clause(["updated_at"])).execution_options(synchronize_session=False))
    core_once = (update(table).where(table.c.id == bindparam("ticket"), table.c.status == bindparam("current"))
                 .values(set_clause(["updated_at"])))

    async def orm_built_once(session, n: int) -> int:
        result = await session.exec(orm_once, params={"ticket": complaint_id, "current": status,
                                                      **set_values({"updated_at": at(n)})})
        return result.rowcount

    async def core_built_once(session, n: int) -> int:
        result = await session.exec(core_once, params={"ticket": complaint_id, "current": status,
                                                       **set_values({"updated_at": at(n)})})
        return result.rowcount

    held: dict = {}  # session → its asyncpg connection, taken once (as a use case below the ORM would)

    async def driver(session, n: int) -> int:
        raw = held.get(session)
        if raw is None:
            conn = await session.connection()
            raw = held[session] = (await conn.get_raw_connection()).driver_connection  # in the session's transaction
        done = await raw.execute(RAW_SQL, at(n), complaint_id, status)
        return int(done.rsplit(" ", 1)[-1])

    return {"SQLAlchemy ORM (session.exec of update(Complaint))": orm,
            "Core through the session (update(table))": core,
            "Core on the session's connection": connection,
            "ORM, built once (bound parameters)": orm_built_once,
            "Core through the session, built once": core_built_once,
            "asyncpg on the session's connection": driver}


async def bench(database_url: str, statements: int) -> dict[str, float]:
    """CPU seconds per statement of each way (and checks each updated the one row every time)."""
    from models.db import create_engine, session_factory, upgrade

    await upgrade(database_url, separate_process=True)
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    try:
        complaint_id, status = await _file_one(sessions)
        spent = {}
        for name, way in ways(complaint_id, status).items():
            async with sessions() as session:
                for n in range(WARM_UP):
                    await way(session, n)
                started = time.process_time()
                updated = 0
                for n in range(statements):
                    updated += await way(session, n)
                spent[name] = (time.process_time() - started) / statements
                await session.rollback()
            if updated != statements:
                raise SystemExit(f"{name}: {updated} rows updated in {statements} statements")
        return spent
    finally:
        await engine.dispose()


async def main(args) -> None:
    url = await postgres_database(args.pg_url, "bench_statement")
    spent = await bench(url, args.statements)
    floor = spent["asyncpg on the session's connection"]
    print(f"one UPDATE of a ticket by id and status, {args.statements} times each way, one transaction:")
    for name, seconds in spent.items():
        print(f"  {name:52} {1e6 * seconds:6.0f} CPU µs per statement  ×{seconds / floor:4.1f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="its server hosts the bench_statement database "
                                                             "(env BENCH_POSTGRES_URL)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
