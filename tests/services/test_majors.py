"""Major-complaint ownership, its deadlines' watch, early warnings and the report review, as use
cases on both databases (the chat and the console are in tests/e2e/test_majors.py, tests/web)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.settings import Settings
from models.db import writing
from models.tables import Complaint, OutboxNotice, ReportRun
from services import escalation, majors, matters, review
from services.errors import DeskError
from services.notices import NoticeKind
from services.sla import SlaPolicy
from services.worktime import WorkCalendar
from tests.models.test_data_layer import NOW, SHANGHAI, make_resident, submit
from services import staff as staff_service
from tests.services.test_procedure_records import person as unbound

TELEGRAM = iter(range(7700, 7800))


async def person(sessions, name: str, role: str, team: str | None = None):
    """A member of staff bound to a Telegram account (so that escalations reach them)."""
    async with sessions() as session:
        await staff_service.seed_teams(session)
        staff, code = await staff_service.create_invite(session, name=name, team_code=team, role=role, now=NOW)
        number = next(TELEGRAM)
        return await staff_service.redeem_invite(session, code, telegram_id=number, chat_id=number, now=NOW)

RULES = majors.MajorRules()
CALENDAR = WorkCalendar("09:00-18:00", SHANGHAI)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


async def make_major(sessions, complaint_id: int, now=NOW, rules=RULES) -> list:
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Complaint, complaint_id)
            ids = await matters.mark_major(session, [row], {"flags": ["lawsuit"]}, now)
            notices = await majors.take_charge(session, ids, now, rules, CALENDAR)
            await session.commit()
    return notices


async def watch(sessions, now):
    async with sessions() as session:
        return await escalation.watch(session, policy=SlaPolicy.from_settings(Settings(_env_file=None)), now=now,
                                      nudge_after=timedelta(days=30), major_after=timedelta(days=30))


def test_settings_and_deadlines():
    settings = Settings(_env_file=None, major_reply="4h", major_resolve="5d", major_owner="刘经理")
    rules = majors.MajorRules.from_settings(settings)
    assert (rules.reply, rules.resolve, rules.owner) == (timedelta(hours=4), timedelta(days=5), "刘经理")
    defaults = majors.MajorRules.from_settings(Settings(_env_file=None))
    assert (defaults.reply, defaults.resolve, defaults.owner) == (timedelta(days=2), timedelta(days=10), None)
    friday = local(2026, 11, 27, 17, 0)
    assert RULES.reply_by(CALENDAR, friday) == local(2026, 12, 1, 17, 0)  # two working days: Tuesday 17:00
    assert rules.reply_by(CALENDAR, friday) == local(2026, 11, 30, 12, 0)  # 4 working hours: Monday 12:00
    assert RULES.reply_by(None, friday) == friday + timedelta(days=2)


async def test_owner_is_the_configured_manager_else_the_first_one(sessions, classifier):
    first = await unbound(sessions, "刘经理", "manager")  # console-only managers may own majors too
    second = await person(sessions, "周经理", "manager")
    async with sessions() as session:
        assert (await majors.owner_for(session, RULES)).id == first.id
        assert (await majors.owner_for(session, majors.MajorRules(owner="周经理"))).id == second.id
        assert (await majors.owner_for(session, majors.MajorRules(owner=str(second.id)))).id == second.id
        assert (await majors.owner_for(session, majors.MajorRules(owner="没有这个人"))).id == first.id


async def test_take_charge_sets_owner_and_deadlines_once(sessions, classifier):
    manager = await person(sessions, "刘经理", "manager")
    ticket = await submit(sessions, await make_resident(sessions), classifier)
    notices = await make_major(sessions, ticket.id)
    assert [(n.kind, n.recipient_id, n.params) for n in notices] == [
        (NoticeKind.MAJOR_OWNER, manager.id, {"ids": [ticket.id]})]
    async with sessions() as session:
        row = await session.get(Complaint, ticket.id)
        assert (row.major_owner_id, row.major_at) == (manager.id, NOW)
        assert row.major_reply_by == local(2026, 11, 30, 10, 0) and row.major_resolve_by == NOW + timedelta(days=10)
        async with writing(session):  # a second take-charge (another process) changes nothing
            await majors.take_charge(session, [ticket.id], NOW + timedelta(hours=1), RULES, CALENDAR)
            await session.commit()
        row = await session.get(Complaint, ticket.id, populate_existing=True)
        assert row.major_at == NOW


async def test_take_charge_keeps_the_sessions_own_tickets_in_step(sessions, classifier):
    """The tickets the UPDATE changed read their owner and deadlines in the same session without a
    reload (what the filing's receipt and card see); one taken in charge before keeps its own."""
    manager = await person(sessions, "刘经理", "manager")
    resident = await make_resident(sessions)
    earlier = await submit(sessions, resident, classifier)
    ticket = await submit(sessions, resident, classifier, draft="d2")
    await make_major(sessions, earlier.id)
    async with sessions() as session:
        async with writing(session):
            loaded = [await session.get(Complaint, earlier.id), await session.get(Complaint, ticket.id)]
            await matters.mark_major(session, loaded[1:], {"flags": ["lawsuit"]}, NOW)
            later = NOW + timedelta(hours=3)
            await majors.take_charge(session, [earlier.id, ticket.id], later, RULES, CALENDAR)
            assert (loaded[1].major_at, loaded[1].major_owner_id) == (later, manager.id)
            assert loaded[1].major_resolve_by == later + timedelta(days=10)
            assert loaded[0].major_at == NOW  # already in charge: unchanged in the database and here
            assert not session.dirty  # in step, nothing left to write
            await session.commit()
        stored = await session.get(Complaint, ticket.id, populate_existing=True)
        assert (stored.major_at, stored.major_owner_id) == (later, manager.id)


async def test_missed_reply_and_resolution_are_escalated_once_each(sessions, classifier):
    manager = await person(sessions, "刘经理", "manager")
    admin = await person(sessions, "总经理", "admin")
    ticket = await submit(sessions, await make_resident(sessions), classifier)
    await make_major(sessions, ticket.id)
    reply_by = local(2026, 11, 30, 10, 0)
    assert [n for n in await watch(sessions, reply_by - timedelta(minutes=1))
            if n.kind is NoticeKind.MAJOR_REPLY_OVERDUE] == []
    late = [n for n in await watch(sessions, reply_by) if n.kind is NoticeKind.MAJOR_REPLY_OVERDUE]
    assert sorted(n.recipient_id for n in late) == sorted([manager.id, admin.id])
    assert [n for n in await watch(sessions, reply_by + timedelta(hours=1))
            if n.kind is NoticeKind.MAJOR_REPLY_OVERDUE] == []
    resolve_by = NOW + timedelta(days=10)
    overdue = [n for n in await watch(sessions, resolve_by) if n.kind is NoticeKind.MAJOR_RESOLVE_OVERDUE]
    assert len(overdue) == 2
    assert [n for n in await watch(sessions, resolve_by + timedelta(days=1))
            if n.kind is NoticeKind.MAJOR_RESOLVE_OVERDUE] == []


async def test_a_reply_in_time_is_not_escalated(sessions, classifier):
    manager = await person(sessions, "刘经理", "manager")
    worker = await person(sessions, "张师傅", "staff", "engineering")
    ticket = await submit(sessions, await make_resident(sessions), classifier)
    await make_major(sessions, ticket.id)
    async with sessions() as session:
        with pytest.raises(DeskError, match="major_may_not_reply"):
            await majors.reply(session, ticket.id, worker, "好的", now=NOW)
        with pytest.raises(DeskError, match="note_empty"):
            await majors.reply(session, ticket.id, manager, "  ", now=NOW)
        outcome = await majors.reply(session, ticket.id, manager, "已安排维修", now=NOW + timedelta(hours=1))
    assert [(n.kind, n.params) for n in outcome.notices] == [(NoticeKind.MAJOR_REPLY, {"note": "已安排维修"})]
    assert [n for n in await watch(sessions, local(2026, 12, 1, 10, 0))
            if n.kind is NoticeKind.MAJOR_REPLY_OVERDUE] == []


async def test_early_warning_needs_a_manager_and_every_field(sessions, classifier):
    manager = await person(sessions, "刘经理", "manager")
    other = await person(sessions, "周经理", "manager")
    worker = await person(sessions, "张师傅", "staff", "engineering")
    async with sessions() as session:
        with pytest.raises(DeskError, match="warning_not_allowed"):
            await majors.write_warning(session, worker, matter="a", advice="b", notified="c", now=NOW)
        with pytest.raises(DeskError, match="warning_advice_empty"):
            await majors.write_warning(session, manager, matter="a", advice=" ", notified="c", now=NOW)
        with pytest.raises(DeskError, match="warning_unknown_ticket"):
            await majors.write_warning(session, manager, matter="a", advice="b", notified="c",
                                       numbers=["TS20990101-0001"], now=NOW)
        warning = await majors.write_warning(session, manager, matter="停水", advice="周五恢复", notified="楼长",
                                             now=NOW)
        assert [w.id for w in await majors.warnings(session)] == [warning.id]
        told = (await session.exec(select(OutboxNotice).where(OutboxNotice.kind == "early_warning"))).all()
    assert [n.recipient_id for n in told] == [other.id]


async def test_report_review_draft_summary_approve(sessions, classifier):
    manager = await person(sessions, "刘经理", "manager")
    worker = await person(sessions, "张师傅", "staff", "engineering")
    async with sessions() as session:
        assert [n.kind for n in await review.make_draft(session, "2026-10", NOW)] == [NoticeKind.REPORT_DRAFT]
        assert await review.make_draft(session, "2026-10", NOW) == []  # once per month
        with pytest.raises(DeskError, match="report_not_reviewer"):
            await review.approve(session, "2026-10", worker, now=NOW)
        with pytest.raises(DeskError, match="report_no_draft"):
            await review.approve(session, "2026-09", manager, now=NOW)
        await review.set_summary(session, "2026-10", manager, "  原因分析  ", now=NOW)
        assert await review.summary_of(session, "2026-10") == "原因分析"
        sent = await review.approve(session, "2026-10", manager, now=NOW + timedelta(hours=1))
        assert [(n.kind, n.recipient_id, n.params) for n in sent] == [
            (NoticeKind.MONTHLY_REPORT, manager.id, {"month": "2026-10"})]
        run = await session.get(ReportRun, "2026-10", populate_existing=True)
        assert (run.status, run.sent_at, run.approved_by_id, run.recipients) == (
            "sent", NOW + timedelta(hours=1), manager.id, 1)
        with pytest.raises(DeskError, match="report_no_draft"):
            await review.set_summary(session, "2026-10", manager, "改", now=NOW)
