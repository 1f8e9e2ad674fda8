"""Retention: tickets finished longer ago than the period lose their personal data, not their figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from models.db import writing
from models.tables import CallbackRound, Complaint, ComplaintCreate, ComplaintEvent, Resident
from services import lifecycle, retention
from services.classify import Classification
from services.domain import Category, Kind, Severity, Status

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
KEEP = timedelta(days=3 * 365)


async def ticket(session, n: int, *, closed: bool, at: datetime) -> Complaint:
    resident = await lifecycle.get_or_create_resident(
        session, lifecycle.ResidentProfile(telegram_id=700 + n, chat_id=700 + n, name=f"住户{n}"))
    complaint = await lifecycle.submit_complaint(
        session, resident=resident, draft_key=f"d{n}", tz=ZoneInfo("Asia/Shanghai"), now=at,
        data=ComplaintCreate(description=f"5栋2单元1302漏水，电话13812345678（{n}）", location="5栋2单元1302",
                             contact_name=f"张先生{n}", contact_phone="13812345678", photos=["photo"]),
        classification=Classification(category=Category.ENGINEERING, kind=Kind.COMPLAINT,
                                      severity=Severity.GENERAL, confidence=1, keywords=()))
    actor = lifecycle.Actor.system()
    async with writing(session):
        lifecycle.record(session, complaint.id, "note", actor=actor, now=at, note="已联系张先生")
        session.add(CallbackRound(complaint_id=complaint.id, status="answered", rating=4, comment="师傅很好",
                                  opened_at=at, closed_at=at))
        if closed:
            for status in (Status.ASSIGNED, Status.ACCEPTED, Status.RESOLVED, Status.CLOSED):
                await lifecycle.transition(session, complaint, status, actor=actor, now=at)
        await session.commit()
    return complaint


class TestRetention:
    async def test_old_finished_tickets_lose_personal_data_and_keep_figures(self, sessions):
        long_ago = NOW - KEEP - timedelta(days=1)
        async with sessions() as session:
            old = await ticket(session, 1, closed=True, at=long_ago)
            recent = await ticket(session, 2, closed=True, at=NOW - timedelta(days=30))
            still_open = await ticket(session, 3, closed=False, at=long_ago)

            dry = await retention.due(session, keep=KEEP, now=NOW)
            assert dry.tickets == [old.number]
            assert (await session.get(Complaint, old.id, populate_existing=True)).contact_phone == "13812345678"

            run = await retention.anonymise(session, keep=KEEP, now=NOW)
            assert run.tickets == [old.number] and run.residents == 1
            gone = await session.get(Complaint, old.id, populate_existing=True)
            assert (gone.description, gone.contact_name, gone.contact_phone, gone.photos) == ("", None, None, [])
            assert gone.location == "5栋" and gone.anonymised_at == NOW  # the building stays for the figures
            assert (gone.category, gone.severity, gone.status) == ("工程管理", "general", "closed")
            events = (await session.exec(select(ComplaintEvent).where(ComplaintEvent.complaint_id == old.id))).all()
            assert all(e.note is None for e in events) and events[-1].action == "anonymised"
            [round_] = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == old.id))).all()
            assert (round_.rating, round_.comment) == (4, None)
            person = await session.get(Resident, gone.resident_id, populate_existing=True)
            assert (person.name, person.phone) == ("", None)
            for kept in (recent, still_open):
                row = await session.get(Complaint, kept.id, populate_existing=True)
                assert row.contact_phone == "13812345678" and row.anonymised_at is None

            again = await retention.anonymise(session, keep=KEEP, now=NOW)
            assert again.tickets == []  # once only
