"""Retention (SPEC "Privacy"): records are kept RETENTION (3 years), then anonymised.

A ticket finished (closed, cancelled or invalid) longer ago than the retention period loses its
personal data — the resident's name and phone, every free text (description, notes, results,
comments, corrections) and its photos; the location keeps only its building or area — while the
figures stay (category, kind, severity, status, dates, ratings). Each ticket gets an audit event.
A resident whose every ticket is anonymised loses name, username and phone. Delivered
notices older than the period (they may quote notes) are deleted. The audit log is append-only for
people; this job is the one exception, and it says so in the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import (CallbackRound, CategoryCorrection, Complaint, ComplaintEvent, CorrectiveAction, HandlingPlan,
                           OutboxNotice, Resident)
from services.lifecycle import Actor, record
from services.matters import area_of

FINISHED = ("closed", "cancelled", "invalid")
REMOVED = ""  # what free text becomes


@dataclass
class RetentionRun:
    """What one run did (or, dry, would do)."""

    cutoff: datetime
    tickets: list[str] = field(default_factory=list)  # numbers
    residents: int = 0
    notices: int = 0


def _finished_before(cutoff: datetime):
    return (col(Complaint.status).in_(FINISHED) & col(Complaint.anonymised_at).is_(None)
            & (func.coalesce(Complaint.closed_at, Complaint.updated_at) < cutoff))


async def due(session: AsyncSession, *, keep: timedelta, now: datetime, limit: int = 1000) -> RetentionRun:
    """What a run would anonymise now (nothing is changed)."""
    cutoff = now - keep
    numbers = (await session.exec(select(Complaint.number).where(_finished_before(cutoff))
                                  .order_by(col(Complaint.id)).limit(limit))).all()
    notices = (await session.exec(select(func.count()).select_from(OutboxNotice).where(
        col(OutboxNotice.state).in_(("sent", "failed")), OutboxNotice.created_at < cutoff))).one()
    return RetentionRun(cutoff=cutoff, tickets=list(numbers), notices=notices)


async def anonymise(session: AsyncSession, *, keep: timedelta, now: datetime, batch: int = 500) -> RetentionRun:
    """Anonymise what is due, one batch per transaction; returns what was done."""
    run = RetentionRun(cutoff=now - keep)
    while True:
        async with writing(session):
            due_now = select(Complaint).where(_finished_before(run.cutoff)).order_by(col(Complaint.id)).limit(batch)
            if session.bind.dialect.name == "postgresql":
                due_now = due_now.with_for_update(skip_locked=True)  # another process takes the others
            tickets = (await session.exec(due_now)).all()
            for complaint in tickets:
                await _anonymise_ticket(session, complaint, now)
                run.tickets.append(complaint.number)
            await session.commit()
        if len(tickets) < batch:
            break
    async with writing(session):
        run.residents = await _anonymise_residents(session, run.cutoff)
        result = await session.exec(delete(OutboxNotice).where(
            col(OutboxNotice.state).in_(("sent", "failed")), OutboxNotice.created_at < run.cutoff))
        run.notices = result.rowcount or 0
        await session.commit()
    return run


async def _anonymise_ticket(session: AsyncSession, complaint: Complaint, now: datetime) -> None:
    ids = complaint.id
    await session.exec(update(Complaint).where(Complaint.id == ids).values(
        description=REMOVED, location=area_of(complaint.location), contact_name=None, contact_phone=None,
        photos=[], keywords=[], draft_key=None, anonymised_at=now))
    # The audit log keeps who/when/what; only the words people typed go.
    await session.exec(update(ComplaintEvent).where(ComplaintEvent.complaint_id == ids,
                                                    col(ComplaintEvent.note).is_not(None)).values(note=None))
    await session.exec(update(CallbackRound).where(CallbackRound.complaint_id == ids).values(comment=None))
    await session.exec(update(CategoryCorrection).where(CategoryCorrection.complaint_id == ids).values(text=REMOVED))
    # 原因分析, 处理方案, 整改措施 (services.procedure): the category, dates and statuses stay, the words go
    await session.exec(update(Complaint).where(Complaint.id == ids).values(cause_text=None))
    await session.exec(update(HandlingPlan).where(HandlingPlan.complaint_id == ids).values(text=REMOVED,
                                                                                           return_reason=None))
    await session.exec(update(CorrectiveAction).where(CorrectiveAction.complaint_id == ids).values(
        description=REMOVED, done_note=None))
    record(session, ids, "anonymised", actor=Actor.system(), now=now)


async def _anonymise_residents(session: AsyncSession, cutoff: datetime) -> int:
    """Residents whose every ticket is anonymised (a name comes back when they write again)."""
    keeps = select(Complaint.resident_id).where(col(Complaint.anonymised_at).is_(None))
    result = await session.exec(update(Resident).where(
        col(Resident.id).not_in(keeps),
        col(Resident.id).in_(select(Complaint.resident_id)),
        (Resident.name != REMOVED) | col(Resident.phone).is_not(None) | col(Resident.username).is_not(None),
    ).values(name=REMOVED, username=None, phone=None))
    return result.rowcount or 0
