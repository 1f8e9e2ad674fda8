"""重大投诉 ownership: the customer-service manager in charge, the first reply to the resident
(within ``MAJOR_REPLY`` of working time, "2个工作日内反馈") and the resolution (within
``MAJOR_RESOLVE``, "解决时间不超过十天"), both watched by the deadline watch; the linked tickets
of one matter are resolved or closed together; early warnings (投诉预警) written by managers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import set_clause, set_values, writing
from models.tables import Complaint, EarlyWarning, Staff
from services import outbox
from services import staff as staff_service
from services.domain import Status
from services.errors import DeskError
from services.lifecycle import OPEN_STATUSES, Actor, locked_ticket, record, transition
from services.notices import Notice, NoticeKind, to_resident, to_staff
from services.worktime import WorkCalendar

REPLY_MAX = 1000
WARNING_MAX = 2000


@dataclass(frozen=True)
class MajorRules:
    """Who owns majors and how long the first reply and the resolution may take."""

    reply: timedelta = timedelta(days=2)  # working time (whole days count as working days)
    resolve: timedelta = timedelta(days=10)  # calendar time
    owner: str | None = None  # MAJOR_OWNER: a staff id or name; else the first manager

    @classmethod
    def from_settings(cls, settings) -> MajorRules:
        return cls(settings.major_reply, settings.major_resolve, settings.major_owner)

    def reply_by(self, calendar: WorkCalendar | None, now: datetime) -> datetime:
        if calendar is None:
            return now + self.reply
        if self.reply.seconds == 0 and self.reply.microseconds == 0:
            return calendar.add_working_days(now, self.reply.days)
        return calendar.add(now, self.reply)


async def owner_for(session: AsyncSession, rules: MajorRules) -> Staff | None:
    """MAJOR_OWNER if it names an active manager or admin (id or name), else the first active
    manager (else admin). Managers who use only the console can own majors too."""
    rows = await staff_service.leaders(session)  # active managers and admins by id
    wanted = (rules.owner or "").strip()
    for person in rows:
        if wanted and (str(person.id) == wanted or person.name == wanted):
            return person
    managers = [p for p in rows if p.role == "manager"]
    return (managers or list(rows) or [None])[0]


@functools.lru_cache(maxsize=4)
def _take_charge_statement(columns: tuple[str, ...]):
    """:func:`take_charge`'s UPDATE, built once per set of columns; RETURNING the tickets it changed,
    whose copies in the session are brought in step as the ORM's own synchronisation would (which
    cannot evaluate bound parameters)."""
    return (update(Complaint)
            .where(col(Complaint.id).in_(bindparam("ids", expanding=True)), col(Complaint.major_at).is_(None))
            .values(set_clause(columns)).returning(Complaint.id).execution_options(synchronize_session=False))


async def take_charge(session: AsyncSession, complaint_ids: Sequence[int], now: datetime, rules: MajorRules,
                      calendar: WorkCalendar | None) -> list[Notice]:
    """Newly major tickets get their owner and deadlines (inside the caller's write transaction);
    the owner is told what is due when."""
    if not complaint_ids:
        return []
    owner = await owner_for(session, rules)
    reply_by, resolve_by = rules.reply_by(calendar, now), now + rules.resolve
    notices = []
    values = {"major_at": now, "major_owner_id": owner.id if owner else None,
              "major_reply_by": reply_by, "major_resolve_by": resolve_by}
    taken = await session.exec(_take_charge_statement(tuple(values)),
                               params={"ids": list(complaint_ids), **set_values(values)})
    for complaint_id in taken.scalars().all():  # the session's copies of the tickets it changed, in step
        loaded = session.identity_map.get(identity_key(Complaint, complaint_id))
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)
    for complaint_id in complaint_ids:
        record(session, complaint_id, "major_owner", actor=Actor.system(), now=now,
               owner=owner.id if owner else None)
    if owner is not None:
        notices.append(to_staff(NoticeKind.MAJOR_OWNER, owner.id, complaint_ids[0], ids=list(complaint_ids)))
    return notices


async def linked(session: AsyncSession, complaint: Complaint) -> list[Complaint]:
    """Every ticket of the same matter (this one included), in filing order."""
    root = complaint.related_to_id or complaint.id
    rows = await session.exec(select(Complaint).where(
        (Complaint.id == root) | (Complaint.related_to_id == root)).order_by(col(Complaint.id)))
    found = list(rows.all())
    return found if any(c.id == complaint.id for c in found) else [complaint, *found]


def may_own(staff: Staff) -> bool:
    return staff.role in ("manager", "admin")


@dataclass
class ReplyOutcome:
    complaint: Complaint
    replied: list[Complaint] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


async def reply(session: AsyncSession, ticket: Complaint | int, staff: Staff, text: str, *,
                now: datetime) -> ReplyOutcome:
    """The first reply (反馈) on a major matter: every resident of the linked tickets gets the
    message; the reply deadline is met on each."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not may_own(staff):
            raise DeskError("major_may_not_reply", number=complaint.number)
        if not complaint.major:
            raise DeskError("major_not_major", number=complaint.number)
        value = (text or "").strip()
        if not value:
            raise DeskError("note_empty")
        if len(value) > REPLY_MAX:
            raise DeskError("note_too_long", limit=REPLY_MAX)
        outcome = ReplyOutcome(complaint)
        for c in await linked(session, complaint):
            if not c.major or Status(c.status) in (Status.CANCELLED, Status.INVALID):
                continue
            if c.major_replied_at is None:
                c.major_replied_at = now
            c.updated_at = c.last_progress_at = now
            session.add(c)
            record(session, c.id, "major_reply", actor=Actor.of_staff(staff), now=now, note=value)
            outcome.replied.append(c)
            outcome.notices.append(to_resident(NoticeKind.MAJOR_REPLY, c.resident_id, c.id, note=value))
        await outbox.commit_with(session, outcome.notices, now)
    return outcome


async def escalation_recipients(session: AsyncSession, complaint: Complaint) -> list[Staff]:
    """A missed major deadline: the owner, every manager and the admins (management)."""
    people = {p.id: p for p in await staff_service.people_with_role(session, "manager", "admin")}
    if complaint.major_owner_id and complaint.major_owner_id not in people:
        owner = await session.get(Staff, complaint.major_owner_id)
        if owner is not None and owner.active:
            people[owner.id] = owner
    return sorted(people.values(), key=lambda p: p.id)


async def settle_linked(session: AsyncSession, complaint: Complaint, staff: Staff, *, now: datetime,
                        resolve_with: str | None = None, close_reason: str | None = None,
                        close_note: str | None = None, plan_round=None) -> list[Notice]:
    """Inside the caller's transaction, after a major ticket was resolved (``resolve_with``: the
    result) or closed by hand (``close_reason``/``close_note``): its open linked tickets follow,
    each through the lifecycle, and each resident is told."""
    if not complaint.major:
        return []
    notices: list[Notice] = []
    actor = Actor.of_staff(staff)
    for other in await linked(session, complaint):
        if other.id == complaint.id or Status(other.status) not in OPEN_STATUSES:
            continue
        other = await session.get(Complaint, other.id, populate_existing=True, with_for_update=True)
        if Status(other.status) not in OPEN_STATUSES:
            continue
        if resolve_with is not None:
            if Status(other.status) in (Status.NEW, Status.ASSIGNED):
                other.accepted_at = other.accepted_at or now
                session.add(other)
                await transition(session, other, Status.ACCEPTED, actor=actor, now=now, action="accept_linked",
                                 linked_to=complaint.id)
            await transition(session, other, Status.RESOLVED, actor=actor, now=now, action="resolve",
                             note=resolve_with, linked_to=complaint.id)
            params = {}
            if plan_round is not None:
                params = await plan_round(other)
            notices.append(to_resident(NoticeKind.RESOLVED, other.resident_id, other.id, result=resolve_with,
                                       **params))
        else:
            other.close_reason, other.close_note = close_reason, close_note
            session.add(other)
            await transition(session, other, Status.CLOSED, actor=actor, now=now, action="close", note=close_note,
                             by_hand=True, reason=close_reason, linked_to=complaint.id)
            notices.append(to_resident(NoticeKind.CLOSED_BY_HAND, other.resident_id, other.id, reason=close_reason,
                                       note=close_note))
    return notices


# --- early warnings (投诉预警) ------------------------------------------------------------------


def _field(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise DeskError(f"warning_{what}_empty")
    if len(text) > WARNING_MAX:
        raise DeskError("note_too_long", limit=WARNING_MAX)
    return text


async def write_warning(session: AsyncSession, staff: Staff, *, matter: str, advice: str, notified: str,
                        numbers: Sequence[str] = (), now: datetime) -> EarlyWarning:
    """A manager records a matter that may become major: what residents are to be told and who
    was told; optional ticket numbers link it to tickets. The other managers are told."""
    if not may_own(staff):
        raise DeskError("warning_not_allowed")
    async with writing(session):
        ids = []
        for number in numbers:
            number = number.strip().upper()
            if not number:
                continue
            found = (await session.exec(select(Complaint.id).where(Complaint.number == number))).first()
            if found is None:
                raise DeskError("warning_unknown_ticket", number=number)
            ids.append(found)
        warning = EarlyWarning(matter=_field(matter, "matter"), advice=_field(advice, "advice"),
                               notified=_field(notified, "notified"), author_id=staff.id, at=now, complaint_ids=ids)
        session.add(warning)
        await session.flush()
        for c_id in ids:
            record(session, c_id, "early_warning", actor=Actor.of_staff(staff), now=now, warning=warning.id)
        others = [p for p in await staff_service.people_with_role(session, "manager") if p.id != staff.id]
        notices = [to_staff(NoticeKind.EARLY_WARNING, p.id, None, warning=warning.id) for p in others]
        await outbox.commit_with(session, notices, now)
    return warning


async def warnings(session: AsyncSession, *, limit: int = 50) -> list[EarlyWarning]:
    rows = await session.exec(select(EarlyWarning).order_by(col(EarlyWarning.at).desc(), col(EarlyWarning.id).desc())
                              .limit(limit))
    return list(rows.all())
