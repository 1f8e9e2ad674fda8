"""Tickets' lifecycle: the one door for status changes, the audit log, residents and lookups.

Every change of ``complaint.status`` goes through :func:`transition`: it checks the allowed
transitions, updates the row only if it is still in the expected status (so a change handled
twice changes nothing the second time) and writes the audit event in the same transaction.
The database refuses any other UPDATE of the column (``models.db``). Every audit event is built
by :func:`record`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import STATUS_DOOR, fresh_transaction, reading, set_clause, set_values
from models.rows import new_row
from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Resident, Staff
from services.classify import Classification
from services.domain import Status
from services.errors import DeskError
from services.numbering import next_ticket_number
from services.sla import SlaPolicy, deadlines, plan_deadline

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

# Moves only a person deciding by hand may make (``transition(..., by_hand=True)``): a manager
# closes an open ticket with a reason (符合国家相关法律法规 / 超出公司管理权限); a ticket found
# invalid while in handling.
BY_HAND: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.CLOSED}),
    Status.ASSIGNED: frozenset({Status.CLOSED}),
    Status.ACCEPTED: frozenset({Status.CLOSED, Status.INVALID}),
    Status.REOPENED: frozenset({Status.CLOSED, Status.INVALID}),
}


class DuplicateSubmission(Exception):
    """The same draft was submitted twice (double tap); carries the existing ticket."""

    def __init__(self, complaint: Complaint) -> None:
        super().__init__(complaint.number)
        self.complaint = complaint


@dataclass(frozen=True)
class Actor:
    """Who did something: a resident, a member of staff or the system (the clock)."""

    kind: str  # resident | staff | system
    telegram_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def of_staff(cls, person: Staff) -> Actor:
        return cls("staff", person.telegram_id)

    @classmethod
    def of_resident(cls, resident: Resident) -> Actor:
        return cls("resident", resident.telegram_id)


def record(session: AsyncSession, complaint_id: int, action: str, *, actor: Actor, now: datetime,
           note: str | None = None, from_status: str | None = None, to_status: str | None = None,
           **data: Any) -> ComplaintEvent:
    """Add one audit event (who, when, what, from → to; ``note`` is text a person typed, ``data``
    the structured facts the front ends render in each language)."""
    event = new_row(ComplaintEvent, complaint_id=complaint_id, at=now, actor=actor.kind, actor_id=actor.telegram_id,
                    action=action, from_status=from_status, to_status=to_status, note=note, data=data)
    session.add(event)
    return event


def may_become(complaint: Complaint, to: Status) -> bool:
    return to in TRANSITIONS[Status(complaint.status)]


@functools.lru_cache(maxsize=64)
def _transition_statement(columns: tuple[str, ...]):
    """:func:`transition`'s UPDATE for these columns, built once (an ORM UPDATE: pending changes of
    the session are flushed before it, as before any ORM statement)."""
    return (update(Complaint).where(Complaint.id == bindparam("ticket"), Complaint.status == bindparam("current"))
            .values(set_clause(columns)).execution_options(**{STATUS_DOOR: True, "synchronize_session": False}))


async def transition(session: AsyncSession, complaint: Complaint, to: Status, *, actor: Actor, now: datetime,
                     action: str = "status", note: str | None = None, by_hand: bool = False,
                     columns: dict[str, Any] | None = None, **data: Any) -> ComplaintEvent:
    """Move a ticket to another status inside the caller's write transaction, with its audit event
    (``by_hand``: the extra moves of ``BY_HAND`` are allowed too; ``columns``: other columns of the
    ticket that change with the status, written by the same UPDATE — e.g. the assignee).

    Raises ``DeskError("status_not_allowed")`` for a move the workflow forbids and
    ``DeskError("ticket_changed")`` when the row is no longer in the status the caller saw.
    """
    current = Status(complaint.status)
    if to not in TRANSITIONS[current] and not (by_hand and to in BY_HAND.get(current, ())):
        raise DeskError("status_not_allowed", number=complaint.number, status=current.value)
    values: dict[str, Any] = {**(columns or {}), "status": to.value, "updated_at": now}
    if to is Status.RESOLVED:
        values["resolved_at"] = now
    if to is Status.CLOSED:
        values["closed_at"] = now
    result = await session.exec(_transition_statement(tuple(values)),
                                params={"ticket": complaint.id, "current": current.value, **set_values(values)})
    if not result.rowcount:
        raise DeskError("ticket_changed", number=complaint.number)
    for name, value in values.items():
        set_committed_value(complaint, name, value)
    return record(session, complaint.id, action, actor=actor, now=now, note=note,
                  from_status=current.value, to_status=to.value, **data)


# --- residents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentProfile:
    """What Telegram tells us about the person writing."""

    telegram_id: int
    chat_id: int
    name: str
    username: str | None = None
    language_code: str | None = None


_RESIDENT_BY_TELEGRAM_ID = select(Resident).where(Resident.telegram_id == bindparam("telegram_id"))


async def get_or_create_resident(session: AsyncSession, profile: ResidentProfile) -> Resident:
    """Find the person by Telegram id, refreshing their name and language, or create them."""
    resident = (await session.exec(_RESIDENT_BY_TELEGRAM_ID, params={"telegram_id": profile.telegram_id})).first()
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
    seen = (profile.name[:128], profile.username, profile.chat_id, profile.language_code)
    if seen != (resident.name, resident.username, resident.chat_id, resident.language_code) or resident.unreachable:
        await fresh_transaction(session)
        resident.name, resident.username = profile.name[:128], profile.username
        resident.chat_id, resident.language_code, resident.unreachable = profile.chat_id, profile.language_code, False
        session.add(resident)
        await session.commit()
    return resident


async def set_locale(session: AsyncSession, resident: Resident, locale: str | None) -> None:
    """Remember the language a person chose (None: follow Telegram's language again)."""
    await fresh_transaction(session)
    resident.locale = locale
    session.add(resident)
    await session.commit()


# --- new tickets ----------------------------------------------------------------------------


def new_complaint(*, resident: Resident, data: ComplaintCreate, classification: Classification, draft_key: str,
                  number: str, now: datetime, sla: SlaPolicy | None = None, team_id: int | None = None) -> Complaint:
    """A classified complaint's row with its number and deadlines, not stored yet (see
    :func:`store_complaint`)."""
    complaint = new_row(
        Complaint,
        **data.model_dump(),
        number=number,
        team_id=team_id,
        draft_key=draft_key,
        resident_id=resident.id,
        category=classification.category.value,
        kind=classification.kind.value,
        severity=classification.severity.value,
        status=Status.NEW.value,
        confidence=classification.confidence,
        runner_up=classification.runner_up.value if classification.uncertain and classification.runner_up else None,
        uncertain=classification.uncertain,
        keywords=[
            {"term": hit.term, "weight": hit.weight, "target": hit.target, "source": hit.source}
            for hit in classification.keywords
        ],
        flags=sorted(flag.value for flag in classification.flags),
        created_at=now,
        updated_at=now,
    )
    if sla is not None:
        complaint.respond_by, complaint.resolve_by = deadlines(sla, classification.severity, now)
        complaint.plan_by = plan_deadline(sla, complaint, now)
    return complaint


async def store_complaint(session: AsyncSession, complaint: Complaint, *, resident: Resident, data: ComplaintCreate,
                          now: datetime, assignee_id: int | None = None) -> Complaint:
    """Store a new complaint with its creation event in the caller's write transaction
    (``assignee_id``: the person routing chose before it was stored — it is stored assigned to
    them, as the move new → assigned would leave it, and the caller records that move's event:
    ``routing.assign(..., stored_so=True)``); a second submission of the same draft raises
    DuplicateSubmission."""
    if assignee_id is not None:
        assert Status.ASSIGNED in TRANSITIONS[Status(complaint.status)]
        complaint.status, complaint.assignee_id = Status.ASSIGNED.value, assignee_id
    draft_key = complaint.draft_key
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
    record(session, complaint.id, "created", actor=Actor.of_resident(resident), now=now,
           to_status=Status.NEW.value)
    return complaint


async def create_complaint(
    session: AsyncSession,
    *,
    resident: Resident,
    data: ComplaintCreate,
    classification: Classification,
    draft_key: str,
    tz: ZoneInfo,
    now: datetime,
    sla: SlaPolicy | None = None,
    team_id: int | None = None,
    number: str | None = None,
) -> Complaint:
    """Number and store a classified complaint with its creation event, in the caller's write
    transaction (``team_id``: the team routing chose, stored with the row instead of by an UPDATE
    after it; ``number``: one reserved already, see ``numbering.reserve_ticket_number``); a second
    submission of the same draft raises DuplicateSubmission."""
    if number is None:
        number = await next_ticket_number(session, now=now, tz=tz)
    complaint = new_complaint(resident=resident, data=data, classification=classification, draft_key=draft_key,
                              number=number, now=now, sla=sla, team_id=team_id)
    return await store_complaint(session, complaint, resident=resident, data=data, now=now)


async def submit_complaint(session: AsyncSession, *, now: datetime, **kwargs) -> Complaint:
    """create_complaint in a transaction of its own (tests and tools that only need the row)."""
    await fresh_transaction(session)
    complaint = await create_complaint(session, now=now, **kwargs)
    await session.commit()
    return complaint


# --- lookups --------------------------------------------------------------------------------


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


async def locked_ticket(session: AsyncSession, ticket: Complaint | int) -> Complaint:
    """The ticket as it is now, locked for this transaction where the database can (a use case
    that changes it reads it this way, so two changes at once are applied one after the other)."""
    complaint_id = ticket if isinstance(ticket, int) else ticket.id
    complaint = await session.get(Complaint, complaint_id, populate_existing=True, with_for_update=True)
    if complaint is None:
        raise DeskError("no_ticket")
    return complaint


async def get_by_draft_key(session: AsyncSession, draft_key: str) -> Complaint | None:
    """The ticket a given intake draft became, if it was submitted."""
    return (await session.exec(select(Complaint).where(Complaint.draft_key == draft_key))).first()


_LAST_LOCATION = (
    select(Complaint.location)
    .where(Complaint.resident_id == bindparam("resident_id"))
    .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
    .limit(1)
)


async def last_location(session: AsyncSession, resident: Resident) -> str | None:
    """Where the resident's most recent ticket was, to offer it again (asked at every intake: the
    statement is built once; outside a transaction when the session has none yet)."""
    async with reading(session) as reader:
        return (await reader.exec(_LAST_LOCATION, params={"resident_id": resident.id})).first()
