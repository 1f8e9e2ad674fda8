"""Residents and complaints: submission, lookup and status transitions with an audit event each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Resident
from models.types import utcnow
from services.classify import Classification
from services.domain import Status
from services.numbering import next_ticket_number
from services.sla import SlaPolicy, deadlines

# Which status may follow which (SPEC "Handling").
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.CANCELLED, Status.INVALID}),
    Status.ASSIGNED: frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.CANCELLED, Status.INVALID}),
    Status.ACCEPTED: frozenset({Status.RESOLVED, Status.ASSIGNED, Status.CANCELLED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.REOPENED: frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.RESOLVED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.CANCELLED: frozenset(),
    Status.INVALID: frozenset(),
}

OPEN_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED})


class TransitionError(ValueError):
    """A status change the workflow does not allow; nothing was changed."""


class DuplicateSubmission(Exception):
    """The same draft was submitted twice (double tap); carries the existing ticket."""

    def __init__(self, complaint: Complaint) -> None:
        super().__init__(complaint.number)
        self.complaint = complaint


@dataclass(frozen=True)
class ResidentProfile:
    """What Telegram tells us about the person writing."""

    telegram_id: int
    chat_id: int
    name: str
    username: str | None = None
    language_code: str | None = None


async def get_or_create_resident(session: AsyncSession, profile: ResidentProfile) -> Resident:
    """Find the resident by Telegram id, refreshing their name, or create them."""
    resident = (
        await session.exec(select(Resident).where(Resident.telegram_id == profile.telegram_id))
    ).first()
    if resident is None:
        await fresh_transaction(session)
        resident = Resident(
            telegram_id=profile.telegram_id,
            chat_id=profile.chat_id,
            name=profile.name[:128],
            username=profile.username,
            language_code=profile.language_code,
        )
        session.add(resident)
        try:
            await session.commit()
        except IntegrityError:  # created concurrently by another update of the same person
            await session.rollback()
            return await get_or_create_resident(session, profile)
        return resident
    changed = (resident.name, resident.username, resident.chat_id) != (
        profile.name[:128], profile.username, profile.chat_id,
    )
    if changed or resident.unreachable:
        await fresh_transaction(session)
        resident.name, resident.username = profile.name[:128], profile.username
        resident.chat_id, resident.unreachable = profile.chat_id, False
        session.add(resident)
        await session.commit()
    return resident


async def submit_complaint(
    session: AsyncSession,
    *,
    resident: Resident,
    data: ComplaintCreate,
    classification: Classification,
    draft_key: str,
    tz: ZoneInfo,
    sla: SlaPolicy | None = None,
    now: datetime | None = None,
) -> Complaint:
    """Number, classify and store a complaint with its creation event, in one transaction."""
    now = now or utcnow()
    await fresh_transaction(session)  # the counter upsert must open the write transaction
    number = await next_ticket_number(session, now=now, tz=tz)
    complaint = Complaint(
        **data.model_dump(),
        number=number,
        draft_key=draft_key,
        resident_id=resident.id,
        category=classification.category.value,
        kind=classification.kind.value,
        severity=classification.severity.value,
        status=Status.NEW.value,
        confidence=classification.confidence,
        keywords=[
            {"term": hit.term, "weight": hit.weight, "target": hit.target}
            for hit in classification.keywords
        ],
        flags=sorted(flag.value for flag in classification.flags),
        created_at=now,
        updated_at=now,
    )
    if sla is not None:
        complaint.respond_by, complaint.resolve_by = deadlines(sla, classification.severity, now)
    session.add(complaint)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        existing = await get_by_draft_key(session, draft_key)
        if existing is None:
            raise
        raise DuplicateSubmission(existing) from None
    if data.contact_phone and resident.phone != data.contact_phone:
        resident.phone = data.contact_phone
        session.add(resident)
    session.add(
        ComplaintEvent(
            complaint_id=complaint.id,
            at=now,
            actor="resident",
            actor_id=resident.telegram_id,
            action="created",
            to_status=Status.NEW.value,
            note=classification.reason(),
        )
    )
    await session.commit()
    return complaint


async def transition(
    session: AsyncSession,
    complaint: Complaint,
    to: Status,
    *,
    actor: str,
    actor_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> ComplaintEvent:
    """Move a ticket to another status and log it; refuse what the workflow forbids."""
    current = Status(complaint.status)
    if to not in TRANSITIONS[current]:
        raise TransitionError(f"{complaint.number}: {current.label} → {to.label} 不允许")
    now = now or utcnow()
    await fresh_transaction(session)
    complaint.status = to.value
    complaint.updated_at = now
    if to is Status.RESOLVED:
        complaint.resolved_at = now
    if to is Status.CLOSED:
        complaint.closed_at = now
    event = ComplaintEvent(
        complaint_id=complaint.id, at=now, actor=actor, actor_id=actor_id, action="status",
        from_status=current.value, to_status=to.value, note=note,
    )
    session.add(complaint)
    session.add(event)
    await session.commit()
    return event


async def list_for_resident(
    session: AsyncSession, resident: Resident, *, limit: int = 10
) -> Sequence[Complaint]:
    """The resident's latest tickets, newest first."""
    statement = (
        select(Complaint)
        .where(Complaint.resident_id == resident.id)
        .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def count_for_resident(session: AsyncSession, resident: Resident) -> int:
    statement = select(func.count()).select_from(Complaint).where(
        Complaint.resident_id == resident.id
    )
    return (await session.exec(statement)).one()


async def get_for_resident(
    session: AsyncSession, resident: Resident, number: str
) -> Complaint | None:
    """A ticket by number, only if it belongs to this resident."""
    statement = select(Complaint).where(
        Complaint.number == number.strip().upper(), Complaint.resident_id == resident.id
    )
    return (await session.exec(statement)).first()


async def events_of(session: AsyncSession, complaint: Complaint) -> Sequence[ComplaintEvent]:
    statement = (
        select(ComplaintEvent)
        .where(ComplaintEvent.complaint_id == complaint.id)
        .order_by(col(ComplaintEvent.at), col(ComplaintEvent.id))
    )
    return (await session.exec(statement)).all()


async def get_by_draft_key(session: AsyncSession, draft_key: str) -> Complaint | None:
    """The ticket a given intake draft became, if it was submitted."""
    return (await session.exec(select(Complaint).where(Complaint.draft_key == draft_key))).first()


async def last_location(session: AsyncSession, resident: Resident) -> str | None:
    """Where the resident's most recent ticket was, to offer it again."""
    statement = (
        select(Complaint.location)
        .where(Complaint.resident_id == resident.id)
        .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()
