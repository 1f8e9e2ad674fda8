"""Cause analysis, corrective actions and handling plans (services.procedure) on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.settings import Settings
from models.db import writing
from models.tables import Complaint, ComplaintCreate, CorrectiveAction, HandlingPlan, Staff
from services import handling, lifecycle, procedure
from services.domain import Status
from services.errors import DeskError
from services.lifecycle import Actor
from services.sla import SlaPolicy
from tests.models.test_data_layer import NOW, SHANGHAI, make_resident
from tests.services.test_procedure_records import POLICY, person

SLA = SlaPolicy.from_settings(Settings(_env_file=None))
IMPORTANT = "电梯坏了三天没人修"  # Ⅱ
GENERAL = "3栋门口的路灯不亮了"  # Ⅲ


async def file(sessions, classifier, text: str = IMPORTANT, *, draft: str = "d1", now=NOW) -> Complaint:
    resident = await make_resident(sessions)
    async with sessions() as session:
        return await lifecycle.submit_complaint(
            session, resident=resident, now=now, sla=SLA, tz=SHANGHAI, draft_key=f"{resident.telegram_id}:{draft}",
            data=ComplaintCreate(description=text, location="3栋2单元", contact_phone="13812345678"),
            classification=classifier.classify(text))


async def held_by(sessions, complaint: Complaint, worker, *, accept: bool = True) -> None:
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Complaint, complaint.id)
            row.assignee_id, row.team_id = worker.id, worker.team_id
            session.add(row)
            await lifecycle.transition(session, row, Status.ASSIGNED, actor=Actor.system(), now=NOW)
            await session.commit()
        if accept:
            await handling.accept(session, complaint.id, worker, now=NOW)


async def bound(sessions, name: str, role: str, team: str | None, telegram_id: int):
    """A member of staff with a Telegram account (supervisors and managers are reached by chat)."""
    staff = await person(sessions, name, role, team)
    async with sessions() as session:
        async with writing(session):
            row = await session.get(Staff, staff.id)
            row.telegram_id = row.chat_id = telegram_id
            session.add(row)
            await session.commit()
        return row


@pytest.fixture
async def team(sessions):
    return {"supervisor": await bound(sessions, "王主管", "supervisor", "engineering", 9001),
            "worker": await bound(sessions, "张师傅", "staff", "engineering", 9002),
            "other": await bound(sessions, "刘师傅", "staff", "engineering", 9003),
            "manager": await bound(sessions, "李经理", "manager", None, 9004)}


async def test_plan_deadline_is_set_at_filing_for_levels_one_and_two_only(sessions, classifier, team):
    important = await file(sessions, classifier)
    general = await file(sessions, classifier, GENERAL, draft="d2")
    assert important.severity == "important" and general.severity == "general"
    assert important.plan_by == procedure_deadline(important)
    assert important.respond_by < important.plan_by < important.resolve_by
    assert general.plan_by is None
    async with sessions() as session:  # a severity correction moves it (Ⅲ → Ⅱ gets one)
        await handling.set_severity(session, general.id, team["manager"], "important", SLA, now=NOW)
        assert (await session.get(Complaint, general.id, populate_existing=True)).plan_by is not None


def procedure_deadline(complaint: Complaint):
    from services.sla import plan_deadline

    return plan_deadline(SLA, complaint, NOW)


async def test_resolving_level_two_needs_a_cause_and_for_our_causes_a_corrective_action(sessions, classifier, team):
    ticket = await file(sessions, classifier)
    worker, other = team["worker"], team["other"]
    await held_by(sessions, ticket, worker)
    async with sessions() as session:
        with pytest.raises(DeskError, match="cause_required"):
            await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW)
        with pytest.raises(DeskError, match="cause_unknown"):
            await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                                   cause=procedure.Cause("weather", "下雨"))
        with pytest.raises(DeskError, match="action_required"):
            await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                                   cause=procedure.Cause("equipment", "水管老化"))
        with pytest.raises(DeskError, match="action_due_past"):
            await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                                   cause=procedure.Cause("equipment", "水管老化", "全楼排查水管", other.id, NOW))
        assert (await session.get(Complaint, ticket.id, populate_existing=True)).status == "accepted"
        outcome = await handling.resolve(
            session, ticket.id, worker, "已更换水管", policy=POLICY, now=NOW,
            cause=procedure.Cause("equipment", "水管老化", "全楼排查水管", other.id, NOW + timedelta(days=7)))
    assert [(n.kind.value, n.recipient_id) for n in outcome.notices] == [
        ("resolved", ticket.resident_id), ("action_assigned", other.id)]
    async with sessions() as session:
        row = await session.get(Complaint, ticket.id)
        assert (row.status, row.cause_category, row.cause_text) == ("resolved", "equipment", "水管老化")
        [action] = (await session.exec(select(CorrectiveAction))).all()
        assert (action.description, action.owner_id, action.due_at, action.status) == (
            "全楼排查水管", other.id, NOW + timedelta(days=7), "open")


async def test_a_cause_not_ours_needs_no_corrective_action_and_level_three_needs_no_cause(sessions, classifier, team):
    worker = team["worker"]
    important = await file(sessions, classifier)
    general = await file(sessions, classifier, GENERAL, draft="d2")
    await held_by(sessions, important, worker)
    await held_by(sessions, general, worker)
    async with sessions() as session:
        await handling.resolve(session, important.id, worker, "已协调", policy=POLICY, now=NOW,
                               cause=procedure.Cause("third_party", "自来水公司停水检修"))
        await handling.resolve(session, general.id, worker, "已更换灯泡", policy=POLICY, now=NOW)
        assert (await session.exec(select(CorrectiveAction))).all() == []
        assert (await session.get(Complaint, important.id, populate_existing=True)).cause_category == "third_party"


async def test_completing_a_corrective_action_records_what_was_done(sessions, classifier, team):
    worker, other, supervisor = team["worker"], team["other"], team["supervisor"]
    ticket = await file(sessions, classifier)
    await held_by(sessions, ticket, worker)
    async with sessions() as session:
        await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                               cause=procedure.Cause("process", "巡检漏项", "修订巡检表", None, NOW + timedelta(days=3)))
        [action] = (await session.exec(select(CorrectiveAction))).all()
        assert action.owner_id == worker.id  # the person resolving by default
        action_id = action.id  # (a refusal rolls back and expires the loaded rows)
        with pytest.raises(DeskError, match="may_not_action"):
            await procedure.complete_action(session, action_id, other, "做了", now=NOW)
        with pytest.raises(DeskError, match="action_note_empty"):
            await procedure.complete_action(session, action_id, worker, " ", now=NOW)
        await procedure.complete_action(session, action_id, supervisor, "巡检表已修订并培训", now=NOW + timedelta(days=1))
        with pytest.raises(DeskError, match="action_done_already"):
            await procedure.complete_action(session, action_id, worker, "再次", now=NOW)
        row = await session.get(CorrectiveAction, action_id, populate_existing=True)
        assert (row.status, row.done_note, row.done_by_id, row.done_at) == (
            "done", "巡检表已修订并培训", supervisor.id, NOW + timedelta(days=1))


async def test_plan_submitted_returned_with_a_reason_resubmitted_and_approved(sessions, classifier, team):
    worker, other, supervisor = team["worker"], team["other"], team["supervisor"]
    ticket = await file(sessions, classifier)
    general = await file(sessions, classifier, GENERAL, draft="d2")
    await held_by(sessions, ticket, worker, accept=False)
    await held_by(sessions, general, worker, accept=False)
    async with sessions() as session:
        with pytest.raises(DeskError, match="not_holder"):
            await procedure.submit_plan(session, ticket.id, other, "方案", now=NOW)
        with pytest.raises(DeskError, match="plan_not_needed"):
            await procedure.submit_plan(session, general.id, worker, "方案", now=NOW)
        sent = await procedure.submit_plan(session, ticket.id, worker, "今天更换水管，明天复查", now=NOW)
        assert [(n.kind.value, n.recipient_id) for n in sent.notices] == [("plan_submitted", supervisor.id)]
        with pytest.raises(DeskError, match="plan_pending"):
            await procedure.submit_plan(session, ticket.id, worker, "又一个", now=NOW)
        with pytest.raises(DeskError, match="may_not_plan"):
            await procedure.decide_plan(session, ticket.id, other, approve=True, now=NOW)
        with pytest.raises(DeskError, match="plan_reason_empty"):
            await procedure.decide_plan(session, ticket.id, supervisor, approve=False, reason="", now=NOW)
        returned = await procedure.decide_plan(session, ticket.id, supervisor, approve=False, reason="缺少时间节点",
                                               now=NOW)
        assert [(n.kind.value, n.recipient_id) for n in returned.notices] == [("plan_returned", worker.id)]
        with pytest.raises(DeskError, match="no_plan_pending"):
            await procedure.decide_plan(session, ticket.id, supervisor, approve=True, now=NOW)
        await procedure.submit_plan(session, ticket.id, worker, "今天18点前更换水管，明天9点复查", now=NOW)
        approved = await procedure.decide_plan(session, ticket.id, team["manager"], approve=True, now=NOW)
        assert [(n.kind.value, n.recipient_id) for n in approved.notices] == [("plan_approved", worker.id)]
        with pytest.raises(DeskError, match="plan_approved_already"):
            await procedure.submit_plan(session, ticket.id, worker, "再一个", now=NOW)
        plans = (await session.exec(select(HandlingPlan).order_by(HandlingPlan.id))).all()
        assert [(p.status, p.return_reason) for p in plans] == [("returned", "缺少时间节点"), ("approved", None)]
        assert (await session.get(Complaint, ticket.id, populate_existing=True)).plan_status == "approved"


async def test_watch_escalates_a_missing_plan_once_per_level_and_watches_corrective_actions(sessions, classifier, team):
    worker, supervisor, manager = team["worker"], team["supervisor"], team["manager"]
    ticket = await file(sessions, classifier)
    late = await file(sessions, classifier, "家里停水两天了", draft="d2")
    await held_by(sessions, ticket, worker)
    await held_by(sessions, late, worker)
    day = timedelta(days=1)

    async def look(at):
        async with sessions() as session:
            return sorted((n.kind.value, n.recipient_id, n.complaint_id)
                          for n in await procedure.watch(session, now=at, remind_before=day))

    async with sessions() as session:
        await procedure.submit_plan(session, ticket.id, worker, "更换水管", now=NOW)
        await procedure.decide_plan(session, ticket.id, supervisor, approve=True, now=NOW)
    assert await look(late.plan_by - timedelta(minutes=1)) == []
    assert await look(late.plan_by) == [("plan_overdue", supervisor.id, late.id)]  # the approved one: nothing
    assert await look(late.plan_by + timedelta(minutes=1)) == []  # once
    second = late.plan_by + (late.plan_by - late.created_at)
    assert await look(second) == [("plan_overdue_manager", manager.id, late.id)]
    assert await look(second + day) == []

    async with sessions() as session:
        await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                               cause=procedure.Cause("equipment", "水管老化", "排查全楼水管", None, NOW + 3 * day))
        [action] = (await session.exec(select(CorrectiveAction))).all()
    assert await look(NOW + day) == []  # the plan alerts are spent; the action is not due for two days
    assert await look(NOW + 2 * day + timedelta(minutes=1)) == [("action_reminder", worker.id, ticket.id)]
    assert await look(NOW + 2 * day + timedelta(hours=1)) == []
    assert await look(NOW + 3 * day) == [("action_overdue", supervisor.id, ticket.id)]
    assert await look(NOW + 4 * day) == []
    async with sessions() as session:
        row = await session.get(CorrectiveAction, action.id)
        assert row.reminded_at == NOW + 2 * day + timedelta(minutes=1) and row.escalated_at == NOW + 3 * day


async def test_retention_removes_the_words_of_causes_plans_and_corrective_actions(sessions, classifier, team):
    from services import retention

    worker, supervisor = team["worker"], team["supervisor"]
    ticket = await file(sessions, classifier)
    await held_by(sessions, ticket, worker)
    async with sessions() as session:
        await procedure.submit_plan(session, ticket.id, worker, "更换水管", now=NOW)
        await procedure.decide_plan(session, ticket.id, supervisor, approve=False, reason="请写明时间", now=NOW)
        await handling.resolve(session, ticket.id, worker, "已修好", policy=POLICY, now=NOW,
                               cause=procedure.Cause("equipment", "水管老化", "排查全楼水管", None, NOW + timedelta(days=3)))
    async with sessions() as session:
        async with writing(session):
            await retention._anonymise_ticket(session, await session.get(Complaint, ticket.id), NOW)
            await session.commit()
    async with sessions() as session:
        row = await session.get(Complaint, ticket.id)
        [plan] = (await session.exec(select(HandlingPlan))).all()
        [action] = (await session.exec(select(CorrectiveAction))).all()
    assert (row.cause_category, row.cause_text) == ("equipment", None)  # the category still counts
    assert (plan.text, plan.return_reason, plan.status) == ("", None, "returned")
    assert (action.description, action.status, action.due_at) == ("", "open", NOW + timedelta(days=3))
