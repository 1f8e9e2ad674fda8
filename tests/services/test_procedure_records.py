"""Issue 13's use cases on both databases: moves by hand, validity, closing by hand, recorded calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from models.db import writing
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent
from services import handling, lifecycle, satisfaction
from services import staff as staff_service
from services.domain import Status
from services.errors import DeskError
from services.satisfaction import CallbackPolicy
from services.slots import parse_slots
from tests.models.test_data_layer import NOW, SHANGHAI, make_resident, submit

POLICY = CallbackPolicy(slots=parse_slots(""), delay=timedelta(days=1), answer_timeout=timedelta(hours=4),
                        max_attempts=3, tz=SHANGHAI, close_no_callback_after=timedelta(days=7),
                        close_unreachable_after=timedelta(days=15))


async def person(sessions, name: str, role: str, team: str | None = None):
    async with sessions() as session:
        await staff_service.seed_teams(session)
        staff, _code = await staff_service.create_invite(session, name=name, team_code=team, role=role, now=NOW)
        return staff


async def test_moves_by_hand_only_through_the_door_with_by_hand(sessions, classifier):
    resident = await make_resident(sessions)
    ticket = await submit(sessions, resident, classifier)
    async with sessions() as session:
        complaint = await session.get(Complaint, ticket.id)
        with pytest.raises(DeskError, match="status_not_allowed"):
            async with writing(session):
                await lifecycle.transition(session, complaint, Status.CLOSED, actor=lifecycle.Actor.system(), now=NOW)
    async with sessions() as session:
        complaint = await session.get(Complaint, ticket.id)
        async with writing(session):
            await lifecycle.transition(session, complaint, Status.CLOSED, actor=lifecycle.Actor.system(), now=NOW,
                                       by_hand=True)
            await session.commit()
    async with sessions() as session:
        assert (await session.get(Complaint, ticket.id)).status == "closed"


async def test_close_by_hand_needs_a_manager_a_listed_reason_and_a_note(sessions, classifier):
    resident = await make_resident(sessions)
    ticket = await submit(sessions, resident, classifier)
    worker = await person(sessions, "张师傅", "staff", "engineering")
    manager = await person(sessions, "李经理", "manager")
    async with sessions() as session:
        with pytest.raises(DeskError, match="may_not_close"):
            await handling.close_by_hand(session, ticket.id, worker, "lawful", "说明", now=NOW)
        with pytest.raises(DeskError, match="close_reason_unknown"):
            await handling.close_by_hand(session, ticket.id, manager, "whim", "说明", now=NOW)
        with pytest.raises(DeskError, match="close_note_empty"):
            await handling.close_by_hand(session, ticket.id, manager, "lawful", "  ", now=NOW)
        outcome = await handling.close_by_hand(session, ticket.id, manager, "lawful", "已依法处理", now=NOW)
    assert [n.kind.value for n in outcome.notices] == ["closed_by_hand"]
    async with sessions() as session:
        row = await session.get(Complaint, ticket.id)
        assert (row.status, row.close_reason, row.close_note) == ("closed", "lawful", "已依法处理")
        with pytest.raises(DeskError, match="close_not_open"):
            await handling.close_by_hand(session, ticket.id, manager, "lawful", "再次", now=NOW)


async def test_mark_invalid_keeps_reason_and_explanation(sessions, classifier):
    resident = await make_resident(sessions)
    ticket = await submit(sessions, resident, classifier)
    manager = await person(sessions, "李经理", "manager")
    async with sessions() as session:
        with pytest.raises(DeskError, match="invalid_reason_unknown"):
            await handling.mark_invalid(session, ticket.id, manager, "boring", "说明", now=NOW)
        await handling.mark_invalid(session, ticket.id, manager, "duplicate", "与 TS… 同一事项", now=NOW)
    async with sessions() as session:
        row = await session.get(Complaint, ticket.id)
        assert (row.status, row.invalid_reason, row.invalid_note) == ("invalid", "duplicate", "与 TS… 同一事项")
        [event] = (await session.exec(select(ComplaintEvent).where(ComplaintEvent.action == "invalid"))).all()
        assert event.to_status == "invalid" and event.data == {"reason": "duplicate"}


async def test_recorded_calls_count_as_attempts_three_unanswered_make_it_unreachable(sessions, classifier):
    resident = await make_resident(sessions)
    ticket = await submit(sessions, resident, classifier)
    manager = await person(sessions, "李经理", "manager")
    async with sessions() as session:
        async with writing(session):
            session.add(CallbackRound(complaint_id=ticket.id, opened_at=NOW))
            await session.commit()
    outcomes = []
    async with sessions() as session:
        for index, method in enumerate(("phone", "visit", "phone")):
            answer = await satisfaction.record_call(session, ticket.id, manager, method, None, policy=POLICY,
                                                    now=NOW + timedelta(hours=index))
            outcomes.append(answer.outcome)
        with pytest.raises(DeskError, match="no_callback_open"):
            await satisfaction.record_call(session, ticket.id, manager, "phone", 5, policy=POLICY, now=NOW)
    assert outcomes == ["unanswered", "unanswered", "unreachable"]
    async with sessions() as session:
        attempts = (await session.exec(select(CallbackAttempt).order_by(CallbackAttempt.attempt_no))).all()
        assert [(a.attempt_no, a.method, a.caller_id, a.state) for a in attempts] == [
            (1, "phone", manager.id, "expired"), (2, "visit", manager.id, "expired"), (3, "phone", manager.id, "expired")]
        [round_] = (await session.exec(select(CallbackRound))).all()
        assert round_.status == "unreachable"
