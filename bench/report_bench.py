"""Time of the monthly figures and report for N synthetic tickets, on SQLite and PostgreSQL.

Run: ``python -m bench.report_bench [--sizes 10000,100000,1000000] [--backends sqlite,postgres]``

For each N: a fresh database (a temporary SQLite file; on PostgreSQL a separate database
``huifang_bench`` on the server of ``--pg-url``, dropped and recreated, so the tests' ``test``
database is never touched), migrated, then filled with bulk inserts (SQLAlchemy Core
executemany, 10k rows a batch): N tickets in the reported month (2026-10, Asia/Shanghai) plus
N/10 in the previous month, with their events (created, accept, resolve, reopen), callback
rounds and attempts (~5 rows per ticket in all). Then it times, once each:

- ``month_stats`` — every figure of one month;
- ``compare`` — the month and the previous month (what /stats runs);
- ``report (no list)`` — ``build_report`` without the ticket-list sheet (figures, breakdowns,
  top matters, charts, workbook);
- ``report (full)`` — ``build_report`` as the CLI runs it, with the list sheet (the first
  ``TICKET_LIST_LIMIT`` tickets);
- ``csv`` — every ticket of the month as CSV (``services.report.write_ticket_csv``, streamed).

Before the table, ``parts`` times each query of the report on its own. ``--reuse`` (PostgreSQL)
keeps the bench database between runs and skips the fill when it already holds N tickets.

Figures only: nothing here asserts on speed. N = 1M takes a while to insert (minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from models.db import create_engine, session_factory, upgrade
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, Resident, Staff, Team
from bot.i18n import catalogues
from services.report import build_report
from services.stats import compare, month_bounds, month_stats

TZ = ZoneInfo("Asia/Shanghai")
MONTH, PREVIOUS = "2026-10", "2026-09"
NOW = datetime(2026, 11, 15, tzinfo=UTC)
BATCH = 10_000

CATEGORIES = {
    "工程管理": (0.40, "engineering", ["电梯", "漏水", "停电", "停水", "门禁", "路灯", "下水道", "坏了"]),
    "环境管理": (0.20, "cleaning", ["垃圾", "异味", "绿化", "蚊虫", "噪音", "清扫"]),
    "安全管理": (0.15, "security", ["停车", "外来人员", "消防通道", "监控", "保安"]),
    "综合管理": (0.10, "service", ["物业费", "通知", "收费", "公示"]),
    "服务人员": (0.05, "service", ["态度", "不接电话", "推诿"]),
    "邻里纠纷": (0.05, "service", ["装修", "宠物", "占用"]),
    "地产相关": (0.03, "service", ["开发商", "产权", "质量"]),
    "其他": (0.02, "service", ["其他"]),
}
SEVERITIES = [("urgent", 0.05, timedelta(minutes=30), timedelta(hours=4)),
              ("important", 0.25, timedelta(hours=2), timedelta(days=3)),
              ("general", 0.70, timedelta(hours=4), timedelta(days=5))]
STATUSES = [("closed", 0.55), ("resolved", 0.15), ("accepted", 0.08), ("assigned", 0.07), ("new", 0.03),
            ("reopened", 0.04), ("cancelled", 0.05), ("invalid", 0.03)]
AREAS = ["地下车库", "小区北门", "小区南门", "中心花园", "会所", "商业街"]


def _location(rng: random.Random) -> str:
    r = rng.random()
    building = rng.randint(1, 40)
    if r < 0.6:
        return f"{building}栋{rng.randint(1, 4)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}"
    if r < 0.85:
        return f"{building}号楼{rng.randint(1, 30)}{rng.randint(1, 4):02d}"
    return rng.choice(AREAS) + rng.choice(["", "东侧", "B2区", "入口"])


def _pick(rng: random.Random, weighted):
    x, acc = rng.random(), 0.0
    for item in weighted:
        acc += item[1]
        if x < acc:
            return item
    return weighted[-1]


def generate(n: int, seed: int = 7):
    """Yield (table, rows) batches: the month's N tickets plus N/10 in the previous month."""
    rng = random.Random(seed)
    teams = [{"id": i, "code": code, "name": name, "categories": [], "special": False}
             for i, (code, name) in enumerate((("engineering", "工程部"), ("cleaning", "环境部"),
                                               ("security", "安全部"), ("service", "客服部")), start=1)]
    team_id = {t["code"]: t["id"] for t in teams}
    staff, by_team = [], {}
    for t in teams:
        for k in range(8):
            sid = len(staff) + 1
            staff.append({"id": sid, "name": f"{t['name']}{k + 1}号", "role": "staff", "team_id": t["id"],
                          "active": True, "unreachable": False, "created_at": NOW})
            by_team.setdefault(t["id"], []).append(sid)
    yield Team.__table__, teams
    yield Staff.__table__, staff
    yield Resident.__table__, [{"id": 1, "telegram_id": 1, "chat_id": 1, "name": "业主", "unreachable": False,
                                "created_at": NOW}]

    categories = [(name, w, team, terms) for name, (w, team, terms) in CATEGORIES.items()]
    spans = []
    for month, count in ((MONTH, n), (PREVIOUS, max(n // 10, 1))):
        start, end = month_bounds(month, TZ)
        spans.append((start, (end - start).total_seconds(), count))
    complaints, events, rounds, attempts = [], [], [], []
    cid = eid = rid = aid = 0

    def flush(final=False):
        nonlocal complaints, events, rounds, attempts
        out = []
        for table, rows in ((Complaint.__table__, complaints), (ComplaintEvent.__table__, events),
                            (CallbackRound.__table__, rounds), (CallbackAttempt.__table__, attempts)):
            if rows and (final or len(complaints) >= BATCH):
                out.append((table, rows))
        if out:
            complaints, events, rounds, attempts = [], [], [], []
        return out

    for start, seconds, count in spans:
        for _ in range(count):
            cid += 1
            created = start + timedelta(seconds=rng.random() * seconds)
            category, _, team, terms = _pick(rng, categories)
            severity, _, respond, resolve = _pick(rng, SEVERITIES)
            status = _pick(rng, STATUSES)[0]
            respond_by, resolve_by = created + respond, created + resolve
            accepted = resolved = closed = None
            if status not in ("new", "assigned", "cancelled", "invalid"):
                accepted = created + respond * rng.uniform(0.1, 1.4)
            if status in ("resolved", "closed", "reopened"):
                resolved = accepted + resolve * rng.uniform(0.1, 1.3)
            if status == "closed":
                closed = resolved + timedelta(days=rng.uniform(0.5, 3))
            chosen = rng.sample(terms, k=min(len(terms), rng.randint(1, 3)))
            keywords = [{"term": t, "weight": round(rng.uniform(0.5, 3), 2), "target": f"category:{category}"}
                        for t in chosen] + [{"term": "小区", "weight": 1.0, "target": "context:property"}]
            tid = team_id[team]
            assignee = rng.choice(by_team[tid]) if status != "new" else None
            complaints.append({
                "id": cid, "number": f"B{cid:09d}", "description": "合成工单", "location": _location(rng),
                "anonymous": False, "photos": [], "team_id": tid, "assignee_id": assignee,
                "accepted_at": accepted, "sensitive": False, "resolved_on_spot": False, "needs_review": False,
                "major": rng.random() < 0.01, "pauses": [], "response_level": 0, "resolve_level": 0,
                "respond_by": respond_by, "resolve_by": resolve_by, "resident_id": 1, "category": category,
                "kind": "投诉", "severity": severity, "status": status, "confidence": 0.8, "keywords": keywords,
                "flags": [], "created_at": created, "updated_at": closed or resolved or accepted or created,
                "resolved_at": resolved, "closed_at": closed, "contact_phone": "13800000000",
            })

            def event(at, action, to, frm=None, cid=cid):
                nonlocal eid
                eid += 1
                events.append({"id": eid, "complaint_id": cid, "at": at, "actor": "staff", "action": action,
                               "from_status": frm, "to_status": to})

            event(created, "created", "new")
            if accepted:
                event(accepted, "accept", "accepted", "assigned")
            if resolved:
                first = resolved
                if status == "reopened":
                    first = accepted + (resolved - accepted) / 2
                    event(first, "resolve", "resolved", "accepted")
                    event(resolved, "status", "reopened", "resolved")
                else:
                    event(resolved, "resolve", "resolved", "accepted")
                rid += 1
                skipped = rng.random() < 0.15
                outcome = "skipped" if skipped else _pick(rng, [("answered", 0.7), ("unreachable", 0.2),
                                                               ("open", 0.1)])[0]
                rating = (_pick(rng, [(5, 0.45), (4, 0.25), (3, 0.12), (2, 0.08), (1, 0.05), (0, 0.05)])[0]
                          if outcome == "answered" else None)
                due = first + timedelta(days=1)
                rounds.append({"id": rid, "complaint_id": cid, "round_no": 1, "status": outcome,
                               "skip_reason": "anonymous" if skipped else None, "opened_at": first,
                               "closed_at": None if outcome == "open" else due + timedelta(hours=2),
                               "rating": rating})
                if not skipped:
                    for k in range(1 if outcome != "unreachable" else 3):
                        aid += 1
                        attempts.append({"id": aid, "round_id": rid, "complaint_id": cid, "attempt_no": k + 1,
                                         "due_at": due + timedelta(hours=9 * k), "state": "expired"})
            yield from flush()
    yield from flush(final=True)


async def fill(url: str, n: int) -> float:
    engine = create_engine(url)
    t0 = time.perf_counter()
    try:
        async with engine.begin() as conn:
            for table, rows in generate(n):
                await conn.execute(insert(table), rows)
            if engine.dialect.name == "postgresql":
                for table in ("team", "staff", "resident", "complaint", "complaint_event", "callback_round",
                              "callback_attempt"):
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - t0


async def vacuum(url: str) -> None:
    """VACUUM ANALYZE (PostgreSQL): what autovacuum does to a live database after a bulk load or a
    migration's backfill; it marks pages all-visible so that index-only scans skip the heap."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()


async def timed(coro_factory) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = await coro_factory()
    return time.perf_counter() - t0, result


async def parts(sessions) -> dict:
    """Each query of the report on its own (the breakdown of ``report (no list)``)."""
    from services import report, report_figures

    out = {}
    async with sessions() as session:
        t, (current, _) = await timed(lambda: compare(session, month=MONTH, tz=TZ, now=NOW))
        out["compare"] = t
        for name, factory in (("by_building", lambda: report.by_building(session, current)),
                              ("by_staff", lambda: report.by_staff(session, current)),
                              ("daily_intake", lambda: report.daily_intake(session, current, TZ)),
                              ("recurring_matters", lambda: report.recurring_matters(session, current)),
                              ("month_figures", lambda: report_figures.month_figures(session, current))):
            out[name], _ = await timed(factory)
    return out


async def measure(url: str, workdir: Path, breakdown: bool = True) -> dict:
    engine = create_engine(url)
    sessions = session_factory(engine)
    out: dict = {}
    try:
        if breakdown:
            out["parts"] = await parts(sessions)
            print("  parts: " + ", ".join(f"{k} {v:.3f}s" for k, v in out["parts"].items()), flush=True)
        async with sessions() as session:
            out["month_stats"], stats = await timed(lambda: month_stats(session, month=MONTH, tz=TZ, now=NOW))
            out["tickets"] = stats.total
        async with sessions() as session:
            out["compare"], _ = await timed(lambda: compare(session, month=MONTH, tz=TZ, now=NOW))
        async with sessions() as session:
            out["report_nolist"], _ = await timed(lambda: build_report(
                session, month=MONTH, tz=TZ, out=workdir / "nolist.xlsx", now=NOW, ticket_list=False, text=catalogues().text))
        async with sessions() as session:
            out["report_full"], files = await timed(lambda: build_report(
                session, month=MONTH, tz=TZ, out=workdir / "full.xlsx", now=NOW, text=catalogues().text))
            out["xlsx_mb"] = files.xlsx.stat().st_size / 1e6
        from services import report

        if hasattr(report, "write_ticket_csv"):  # the whole list as CSV (streamed), beside the capped workbook
            async with sessions() as session:
                out["csv"], path = await timed(lambda: report.write_ticket_csv(
                    session, workdir / "full.csv", month=MONTH, tz=TZ, now=NOW, text=catalogues().text))
                out["csv_mb"] = path.stat().st_size / 1e6
    finally:
        await engine.dispose()
    return out


async def postgres_database(base_url: str, name: str) -> str:
    """Drop and recreate a separate database for the bench; returns its URL."""
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres").render_as_string(hide_password=False),
                          isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def filled(base_url: str, name: str, n: int) -> bool:
    """Whether the bench database exists and holds this size's tickets (N plus N/10)."""
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with admin.connect() as conn:
            exists = (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})).first()
    finally:
        await admin.dispose()
    if not exists:
        return False
    engine = create_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            count = (await conn.exec_driver_sql("SELECT count(*) FROM complaint")).scalar()
    except Exception:  # no table yet: fill anew
        return False
    finally:
        await engine.dispose()
    return count == n + max(n // 10, 1)


async def drop_postgres_database(base_url: str, name: str) -> None:
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres").render_as_string(hide_password=False),
                          isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def main_async(args) -> None:
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"report bench: month {MONTH} ({TZ.key}), sizes {sizes}, backends {backends}", flush=True)
    header = (f"{'backend':<9} {'N':>9} {'month':>8} {'insert s':>9} {'month_stats s':>14} {'compare s':>10} "
              f"{'report(no list) s':>18} {'report(full) s':>15} {'xlsx MB':>8} {'csv s':>7} {'csv MB':>7}")
    results = []
    for n in sizes:
        for backend in backends:
            with tempfile.TemporaryDirectory(prefix="huifang-bench-") as tmp:
                workdir = Path(tmp)
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
                elif backend == "postgres":
                    reuse = args.reuse and await filled(args.pg_url, args.pg_database, n)
                    url = (make_url(args.pg_url).set(database=args.pg_database).render_as_string(hide_password=False)
                           if reuse else await postgres_database(args.pg_url, args.pg_database))
                else:
                    raise SystemExit(f"unknown backend {backend!r}")
                try:
                    await upgrade(url)
                    if backend == "postgres" and reuse:
                        print(f"  reusing {args.pg_database} (already filled with {n} tickets)", flush=True)
                        inserted = 0.0
                    else:
                        inserted = await fill(url, n)
                    if backend == "postgres":
                        await vacuum(url)
                    figures = await measure(url, workdir)
                finally:
                    if backend == "postgres" and not (args.keep or args.reuse):
                        await drop_postgres_database(args.pg_url, args.pg_database)
            line = (f"{backend:<9} {n:>9} {figures['tickets']:>8} {inserted:>9.1f} {figures['month_stats']:>14.3f} "
                    f"{figures['compare']:>10.3f} {figures['report_nolist']:>18.3f} {figures['report_full']:>15.2f} "
                    f"{figures['xlsx_mb']:>8.1f} {figures.get('csv', float('nan')):>7.2f} "
                    f"{figures.get('csv_mb', float('nan')):>7.1f}")
            results.append(line)
            print(line, flush=True)
    print()
    print(header)
    print("\n".join(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N (e.g. 10000,100000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                        help="server to use; the bench creates and drops its own database there")
    parser.add_argument("--pg-database", default="huifang_bench")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL bench database")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: reuse the bench database if it already holds N tickets (skip the fill), "
                             "and keep it")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
