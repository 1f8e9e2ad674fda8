"""The per-day roll-up of the monthly figures (migration 0017, ``services.rollup``) against a recount
from the tickets, on SQLite and PostgreSQL.

Tickets are filed, assigned, accepted, transferred, resolved, reopened, re-resolved, closed, marked
invalid and corrected through the real use cases (``services.lifecycle`` / ``services.handling``);
after each step every figure computed from the roll-up must equal the same figure counted from the
tickets alone (``rollup=False``), for a finished month and a month "so far", for the whole desk
and one team, in Asia/Shanghai (whole roll-up days) and in UTC (roll-up plus the hours outside
its days). A drifting trigger fails here."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text as sql
from sqlmodel import select

from models.db import alembic_config, upgrade, writing
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintCreate, Team
from services import handling, lifecycle, report, report_figures, rollup, satisfaction
from services.domain import Status
from services.lifecycle import Actor
from services.stats import compare, month_stats
from tests.models.test_data_layer import make_resident
from tests.services.test_procedure import SLA, bound, team  # noqa: F401  (team: a fixture)
from tests.services.test_procedure_records import POLICY

SH = ZoneInfo("Asia/Shanghai")
MONTH = "2026-11"
START = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
GENERAL = "3栋门口的路灯不亮了"
IMPORTANT = "电梯坏了三天没人修"
LOCATIONS = ["3栋2单元501", "12号楼302", "地下车库B2区", "A座1202", "", "5幢101"]


async def raw(session, statement: str):
    return await (await session.connection()).execute(sql(statement))


def strip(stats):
    """A MonthStats without its cached sums (compared field by field)."""
    return dataclasses.replace(stats, ticket_sums=None)


def same_figures(a: report_figures.Figures, b: report_figures.Figures) -> None:
    assert {k: v[0] for k, v in a.resolution_hours.items()} == {k: v[0] for k, v in b.resolution_hours.items()}
    for severity, (_, hours) in a.resolution_hours.items():
        assert hours == pytest.approx(b.resolution_hours[severity][1], rel=1e-9)
    assert dataclasses.replace(a, resolution_hours={}) == dataclasses.replace(b, resolution_hours={})


async def check(sessions, *, now: datetime, team_id: int | None = None) -> None:
    """Every figure from the roll-up equals the recount, in both time zones, at ``now``."""
    for tz in (SH, ZoneInfo("UTC")):
        for month in (MONTH, "2026-12"):
            async with sessions() as session:
                fast = await compare(session, month=month, tz=tz, now=now, team_id=team_id)
                slow = await compare(session, month=month, tz=tz, now=now, team_id=team_id, rollup=False)
                assert [strip(s) for s in fast] == [strip(s) for s in slow]
                for valid in (True, False):
                    assert strip(await month_stats(session, month=month, tz=tz, now=now, team_id=team_id,
                                                   valid=valid)) == strip(
                        await month_stats(session, month=month, tz=tz, now=now, team_id=team_id, valid=valid,
                                          rollup=False))
                current = fast[0]
                assert await report.by_building(session, current) == await report.by_building(
                    session, current, rollup=False)
                assert await report.by_staff(session, current) == await report.by_staff(session, current, rollup=False)
                same_figures(await report_figures.month_figures(session, current),
                             await report_figures.month_figures(session, slow[0], rollup=False))
                assert await report.recurring_matters(session, current, limit=5) == await report.recurring_matters(
                    session, current, limit=5, rollup=False)
                assert await report.daily_intake(session, current, tz) == await report.daily_intake(
                    session, current, tz, rollup=False)
                for grain in rollup.GRAINS:
                    assert await rollup.month_sums(session, current, grain) == await rollup.month_sums(
                        session, current, grain, rollup=False)


async def file(sessions, classifier, n: int, at: datetime, text: str = GENERAL) -> Complaint:
    resident = await make_resident(sessions, telegram_id=5000 + n)
    async with sessions() as session:
        return await lifecycle.submit_complaint(
            session, resident=resident, now=at, sla=SLA, tz=SH, draft_key=f"r{n}",
            data=ComplaintCreate(description=text, location=LOCATIONS[n % len(LOCATIONS)],
                                 contact_phone="13812345678"),
            classification=classifier.classify(text))


async def assign(sessions, ticket: Complaint, worker, at: datetime) -> None:
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Complaint, ticket.id)
            row.assignee_id, row.team_id = worker.id, worker.team_id
            session.add(row)
            await lifecycle.transition(session, row, Status.ASSIGNED, actor=Actor.system(), now=at)
            await session.commit()


async def move(sessions, ticket: Complaint, to: Status, at: datetime) -> None:
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Complaint, ticket.id)
            await lifecycle.transition(session, row, to, actor=Actor.system(), now=at)
            await session.commit()


async def rate(sessions, ticket: Complaint, rating: int, at: datetime) -> None:
    """The resident answers the open callback round of ``ticket``."""
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Complaint, ticket.id)
            round_ = (await session.exec(select(CallbackRound).where(
                CallbackRound.complaint_id == ticket.id, CallbackRound.status == "open"))).one()
            assert await satisfaction.settle_round(session, row, round_.id, rating, actor=Actor.system(), now=at,
                                                   sla=SLA)
            await session.commit()


async def test_rollup_follows_every_use_case(sessions, classifier, team):
    worker, other, supervisor, manager = team["worker"], team["other"], team["supervisor"], team["manager"]
    moments = [START + timedelta(days=d, hours=h) for d, h in ((0, 0), (0, 20), (3, 5), (7, 9), (20, 15), (20, 17))]
    tickets = [await file(sessions, classifier, i, at, IMPORTANT if i % 3 == 0 else GENERAL)
               for i, at in enumerate(moments)]
    # the month's last local hours (after the last whole UTC day in Shanghai) and a ticket of December
    tickets.append(await file(sessions, classifier, 6, datetime(2026, 11, 30, 17, 0, tzinfo=UTC)))
    tickets.append(await file(sessions, classifier, 7, datetime(2026, 12, 2, 3, 0, tzinfo=UTC)))
    later = START + timedelta(days=1)
    end_of_month = datetime(2026, 12, 5, tzinfo=UTC)
    for when in (START + timedelta(hours=3), later, end_of_month):  # "so far" and after the deadlines
        await check(sessions, now=when)

    a, b, c, d, e, f, g, h = tickets
    for ticket in (a, b, c, d, e, g):
        await assign(sessions, ticket, worker, later)
    async with sessions() as session:
        await handling.accept(session, a.id, worker, now=later + timedelta(hours=1))
        await handling.accept(session, b.id, worker, now=later + timedelta(days=3))  # late
        await handling.accept(session, e.id, worker, now=later)
    await check(sessions, now=later + timedelta(hours=2))

    # a Ⅲ ticket resolved, rated "not solved" on the callback (reopened), accepted and resolved
    # again, rated 5 (closed)
    async with sessions() as session:
        await handling.resolve(session, e.id, worker, "已修好", policy=POLICY, now=later + timedelta(hours=5))
    await check(sessions, now=later + timedelta(days=3))
    await rate(sessions, e, 0, later + timedelta(days=3))
    await check(sessions, now=later + timedelta(days=3, hours=1))
    async with sessions() as session:
        await handling.accept(session, e.id, worker, now=later + timedelta(days=3, hours=2))
        await handling.resolve(session, e.id, worker, "再次修好", policy=POLICY, now=later + timedelta(days=9))
    await check(sessions, now=end_of_month)
    async with sessions() as session:  # the next prompt moved to another day (as the callback slots do)
        async with writing(session):
            attempt = (await session.exec(select(CallbackAttempt).where(
                CallbackAttempt.complaint_id == e.id, CallbackAttempt.state == "pending"))).one()
            attempt.due_at += timedelta(days=2)
            session.add(attempt)
            await session.commit()
    await check(sessions, now=end_of_month)
    await rate(sessions, e, 5, later + timedelta(days=13))
    await check(sessions, now=end_of_month)

    async with sessions() as session:  # reassigned to a colleague, then to another team
        await handling.transfer(session, b.id, supervisor, team=await session.get(Team, worker.team_id), to=other,
                                now=later + timedelta(days=4))
        cleaning = (await session.exec(select(Team).where(Team.code == "cleaning"))).one()
        await handling.transfer(session, d.id, supervisor, team=cleaning, now=later + timedelta(days=4))
    await check(sessions, now=end_of_month)
    await check(sessions, now=end_of_month, team_id=worker.team_id)

    async with sessions() as session:  # invalid, closed by hand, category and severity corrected
        await handling.mark_invalid(session, c.id, supervisor, "duplicate", "重复提交", now=later + timedelta(days=5))
        await handling.close_by_hand(session, g.id, manager, "lawful", "依法处理", now=later + timedelta(days=6))
        await handling.correct_category(session, f.id, manager, "环境管理", now=later + timedelta(days=6))
        await handling.set_severity(session, a.id, manager, "urgent", SLA, now=later + timedelta(days=6))
    for when in (START + timedelta(days=20, hours=16), end_of_month):
        await check(sessions, now=when)
        await check(sessions, now=when, team_id=worker.team_id)

    async with sessions() as session:  # a ticket written outside the use cases, then deleted (no events)
        async with writing(session):
            bare = Complaint(number="X-1", description="导入", location="9栋", resident_id=a.resident_id,
                             category="工程管理", kind="投诉", severity="general", status="accepted",
                             team_id=worker.team_id, assignee_id=other.id, created_at=START + timedelta(days=2),
                             respond_by=START + timedelta(days=2, hours=1), accepted_at=START + timedelta(days=3),
                             resolve_by=START + timedelta(days=40), major=True)
            session.add(bare)
            await session.commit()
            bare_id = bare.id
    await check(sessions, now=end_of_month)
    async with sessions() as session:
        async with writing(session):
            await session.delete(await session.get(Complaint, bare_id))
            await session.commit()
    await check(sessions, now=end_of_month)
    async with sessions() as session:  # the roll-up's totals are the tickets' (h, of December, included)
        totals = (await raw(session, "SELECT SUM(n), SUM(reopen_events) FROM report_day_ticket")).one()
        count = (await raw(session, "SELECT COUNT(*), SUM(reopens) FROM complaint")).one()
        assert (int(totals[0]), int(totals[1])) == (int(count[0]), int(count[1])) == (8, 1)
        rounds = (await raw(session, "SELECT status, rating, SUM(n) FROM report_day_round GROUP BY status, rating "
                                     "HAVING SUM(n) <> 0 ORDER BY status, rating")).all()
        assert [tuple(r) for r in rounds] == [("answered", 0, 1), ("answered", 5, 1)]


async def test_building_rule_changed_counts_buildings_from_the_tickets(sessions, classifier):
    for i in range(4):
        await file(sessions, classifier, i, START + timedelta(days=i))
    async with sessions() as session:
        async with writing(session):  # as if the vocabulary's markers changed after the migration
            await raw(session, "UPDATE report_rollup_meta SET value = 'old rule' WHERE name = 'building'")
            await raw(session, "UPDATE report_day_building SET building = 'stale'")
            await session.commit()
    async with sessions() as session:
        stats = await month_stats(session, month=MONTH, tz=SH, now=START + timedelta(days=30))
        rows = await report.by_building(session, stats)
        assert rows == await report.by_building(session, stats, rollup=False)
        assert "stale" not in {r.key for r in rows} and sum(r.n for r in rows) == 4


async def test_migration_backfills_the_rollup_from_existing_tickets(database_url, tmp_path, classifier):
    """Tickets written at 0016 (no roll-up yet) are summed by the migration; downgrade drops it."""
    from alembic import command

    from models.db import create_engine, session_factory

    async def reset(revision: str, direction: str) -> None:
        import asyncio

        config = alembic_config(database_url)
        await asyncio.to_thread(getattr(command, direction), config, revision)

    await reset("0016", "downgrade")
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        worker = await bound(sessions, "张师傅", "staff", "engineering", 9202)
        tickets = [await file(sessions, classifier, i, START + timedelta(days=i, hours=7 * i)) for i in range(5)]
        for ticket in tickets[:3]:
            await assign(sessions, ticket, worker, START + timedelta(days=6))
        async with sessions() as session:
            await handling.accept(session, tickets[0].id, worker, now=START + timedelta(days=6))
            await handling.resolve(session, tickets[0].id, worker, "好了", policy=POLICY, now=START + timedelta(days=7))
        await move(sessions, tickets[0], Status.REOPENED, START + timedelta(days=8))
        await upgrade(database_url)
        await engine.dispose()
        await check(sessions, now=START + timedelta(days=3))
        await check(sessions, now=datetime(2026, 12, 5, tzinfo=UTC))
        async with sessions() as session:
            assert int((await raw(session, "SELECT SUM(n) FROM report_day_ticket")).one()[0]) == 5
        await engine.dispose()
        await reset("0016", "downgrade")
        await upgrade(database_url)
        await check(sessions, now=datetime(2026, 12, 5, tzinfo=UTC))
    finally:
        await engine.dispose()


async def test_majors_sheet_keeps_its_first_rows_and_says_how_many(sessions, tmp_path):
    from openpyxl import load_workbook

    from bot.i18n import catalogues
    from tests.services.test_stats import AFTER, seed

    async with sessions() as session:
        ids = await seed(session)
        async with writing(session):
            for name in ("T6", "T7"):
                row = await session.get(Complaint, ids[name])
                row.major = True
                session.add(row)
            await session.commit()
    async with sessions() as session:
        files = await report.build_report(session, month="2026-10", tz=SH, out=tmp_path / "m.xlsx", now=AFTER,
                                          text=catalogues().text, ticket_list=False, majors_rows=2)
    sheet = [tuple(c.value for c in r) for r in load_workbook(files.xlsx)["重大投诉"].iter_rows(min_row=2)]
    assert len(sheet) == 3 and sheet[-1][:2] == ("（仅列出前 2 条，共 3 条）", "全部重大投诉见工单清单 CSV（“重大”一列）")
    assert [r[0] for r in sheet[:2]] == sorted(r[0] for r in sheet[:2])  # the first ones, in filing order
