"""Time of the console's pages with N synthetic tickets (default 100k), on PostgreSQL or SQLite.

Run: ``python -m bench.console_bench [--tickets 100000] [--backend postgres] [--pg-url URL] [--repeat 20]``

The database is filled like ``bench.report_bench`` (bulk inserts: tickets with their events,
callback rounds and attempts); on PostgreSQL in a separate database (``--db-name``, dropped and
recreated on the server of ``--pg-url``). A desk agent signs in with a real login link, then each
page is requested ``--repeat`` times through the FastAPI app in-process (httpx ASGI transport:
routing, dependencies, queries and template rendering, without a network) and the median and 95th
percentile are printed. Figures only: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.report_bench import NOW, drop_postgres_database, fill, postgres_database
from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from services import staff as staff_service
from services import web_auth
from web import WebContext, create_app

PAGES = {
    "board": "/",
    "board page 40": "/?page_no=40",
    "board overdue": "/?overdue=1",
    "board status+team": "/?status=accepted&team=1",
    "search phone last 4": "/?q=0000",
    "search number": "/?q={number}",
    "search words, 1 in 10": "/?q=%E7%94%B5%E6%A2%AF%E5%9D%8F%E4%BA%86",  # 电梯坏了
    "search words, 8 in 10": "/?q=%E5%90%88%E6%88%90%E5%B7%A5%E5%8D%95",  # 合成工单 (the filler)
    "search words, none": "/?q=%E7%87%83%E6%B0%94",  # 燃气
    "ticket": "/tickets/{number}",
    "callbacks": "/callbacks",
}


async def vary_descriptions(url: str) -> None:
    """One ticket in ten about a lift and one about the stair lights, so that a search finds some."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE complaint SET description = CASE WHEN id % 10 = 0 THEN '3号楼电梯坏了，门打不开' "
                "ELSE '楼道灯不亮' END WHERE id % 10 IN (0, 1)")
            if connection.dialect.name == "postgresql":
                await connection.exec_driver_sql("ANALYZE complaint")
    finally:
        await engine.dispose()


async def measure(url: str, repeat: int, number: str) -> dict[str, tuple[float, float]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            desk, code = await staff_service.create_invite(session, name="bench desk", team_code=None, role="desk",
                                                           now=NOW)
            token = await web_auth.create_login_link(session, desk, now=NOW)
        settings = Settings(database_url=url, _env_file=None)
        app = create_app(WebContext(settings, sessions, clock=lambda: NOW))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            assert (await http.post(f"/login/{token}")).status_code == 303
            out = {}
            for name, path in PAGES.items():
                path = path.format(number=number)
                response = await http.get(path)  # warm-up (and a check that the page works)
                assert response.status_code == 200, (path, response.status_code)
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    await http.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                out[name] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
            return out
    finally:
        await engine.dispose()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--pg-url", default=os.environ.get("TEST_POSTGRES_URL",
                                                           "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--db-name", default="huifang_console_bench")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="huifang-console-bench-") as folder:
        if args.backend == "postgres":
            url = await postgres_database(args.pg_url, args.db_name)
        else:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        try:
            await upgrade(url)
            seconds = await fill(url, args.tickets)
            await vary_descriptions(url)
            total = args.tickets + max(args.tickets // 10, 1)
            print(f"{args.backend}: {total} tickets inserted in {seconds:.1f} s; {args.repeat} requests per page")
            results = await measure(url, args.repeat, f"B{max(args.tickets // 2, 1):09d}")
            print(f"{'page':<22}{'median ms':>11}{'p95 ms':>9}")
            for name, (median, p95) in results.items():
                print(f"{name:<22}{median:>11.1f}{p95:>9.1f}")
        finally:
            if args.backend == "postgres":
                await drop_postgres_database(args.pg_url, args.db_name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
