"""Routing and assignment (转派): team by flag desk or category, person by load, and who must hear.

Routing reads the team's load and then assigns, so a team's decisions are taken one at a time:
inside a write transaction (SQLite: BEGIN IMMEDIATE serialises writers) and, on PostgreSQL, under
the team's transaction-scoped advisory lock, so several bot processes keep the least-loaded rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Integer, bindparam, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction, writing
from models.tables import Complaint, Resident, Staff, Team
from services import outbox
from services import staff as staff_service
from services.domain import Severity, Status
from services.lifecycle import Actor, record, transition
from services.notices import Notice, NoticeKind, to_staff

ROUTING_LOCK_KEY = 0x48554946  # "HUIF": the advisory locks of routing decisions, one per team
_ROUTING_LOCK = text("SELECT pg_advisory_xact_lock(:key, :team)").bindparams(
    bindparam("key", ROUTING_LOCK_KEY, type_=Integer), bindparam("team", type_=Integer))


async def hold_routing_lock(session: AsyncSession, team_id: int) -> None:
    """Serialise routing decisions within a team across processes until the transaction ends
    (PostgreSQL). Per team: a decision reads and changes the load of the team's members only (a
    person is in one team), so teams need not wait for each other."""
    if session.bind.dialect.name == "postgresql":
        await session.exec(_ROUTING_LOCK, params={"team": team_id})  # built once: no clause to build per call


async def managers(session: AsyncSession) -> list[Staff]:
    """Managers, else admins: who hears of major complaints and second-level escalations."""
    if staff_service.remembers_leaders(session):  # the filing's one read of managers and admins
        people = [p for p in await staff_service.leaders(session) if p.telegram_id is not None and not p.unreachable]
    else:
        people = await staff_service.people_with_role(session, "manager", "admin")  # one query for both
    managers_ = [person for person in people if person.role == "manager"]
    return managers_ or [person for person in people if person.role == "admin"]


@contextmanager
def remembering_managers(session: AsyncSession) -> Iterator[None]:
    """Read the managers and admins once for a use case that changes no staff (filing a ticket may
    need them for the queue ping, a major alert and the major's owner)."""
    with staff_service.remembering_leaders(session):
        yield


async def supervisor_or_managers(session: AsyncSession, team_id: int | None) -> list[Staff]:
    supervisor = await staff_service.supervisor_of(session, team_id)
    return [supervisor] if supervisor else await managers(session)


async def assign(session: AsyncSession, complaint: Complaint, routing: staff_service.Routing, *, actor: Actor,
                 now: datetime, header: str = "assign", by: str | None = None, stored_so: bool = False) -> list[Notice]:
    """Give the ticket to the routed team and person inside the caller's write transaction
    (``stored_so``: a new ticket stored with this team and person already, see ``choose_route``).

    Returns the pings: the assignee's card, the supervisor's copy for urgent/major tickets, or —
    with nobody to take it — the supervisor (else managers and admins) asked to assign by hand.
    """
    notices: list[Notice] = []
    if routing.assignee is not None:
        facts = {"team": routing.team.name, "team_code": routing.team.code, "assignee": routing.assignee.name, "by": by}
        if stored_so:  # its INSERT carried what the transition's UPDATE sets: the same event, no UPDATE
            record(session, complaint.id, "assign", actor=actor, now=now, from_status=Status.NEW.value,
                   to_status=Status.ASSIGNED.value, **facts)
        else:  # team and assignee in the status change's own UPDATE: one statement for the row, not two
            await transition(session, complaint, Status.ASSIGNED, actor=actor, now=now, action="assign",
                             columns={"team_id": routing.team.id, "assignee_id": routing.assignee.id}, **facts)
        routing.assignee.last_assigned_at = now
        session.add(routing.assignee)
        notices.append(to_staff(NoticeKind.ASSIGNED, routing.assignee.id, complaint.id, header=header))
        if routing.notify_supervisor and routing.supervisor is not None:
            why = "urgent" if complaint.severity == Severity.URGENT.value else "major"
            notices.append(to_staff(NoticeKind.SUPERVISOR_WATCH, routing.supervisor.id, complaint.id, why=why))
    else:
        complaint.team_id, complaint.assignee_id, complaint.updated_at = routing.team.id, None, now
        session.add(complaint)
        record(session, complaint.id, "queue", actor=actor, now=now, team=routing.team.name,
               team_code=routing.team.code)
        targets = [routing.supervisor] if routing.supervisor else await managers(session)
        notices += [to_staff(NoticeKind.QUEUE, person.id, complaint.id) for person in targets]
    return notices


async def choose_route(session: AsyncSession, complaint: Complaint, *, team: staff_service.TeamInfo,
                       exclude: set[int] = frozenset(), major: bool = False) -> staff_service.Routing:
    """The team's person for the ticket (see ``staff.route``), under the team's lock, held to the
    commit. A new ticket is routed so before it is stored, so it is stored assigned
    (``lifecycle.store_complaint(assignee_id=...)``) and then announced with ``assign(...,
    stored_so=True)``: one INSERT, not an INSERT and an UPDATE (on PostgreSQL the UPDATE cost as
    much again in the report's rollup triggers as the INSERT)."""
    await hold_routing_lock(session, team.id)
    return await staff_service.route(session, complaint, exclude=exclude, team=team, major=major)


async def route(session: AsyncSession, complaint: Complaint, *, actor: Actor, now: datetime,
                exclude: set[int] = frozenset(), header: str = "assign",
                team: staff_service.TeamInfo | None = None) -> list[Notice]:
    """Choose team (unless given) and person and assign, inside the caller's write transaction."""
    if team is None:
        team = await staff_service.routing_team(session, complaint.category, complaint.flags)
    routing = await choose_route(session, complaint, team=team, exclude=exclude)
    return await assign(session, complaint, routing, actor=actor, now=now, header=header)


async def staff_unreachable(session: AsyncSession, staff_id: int, *, now: datetime,
                            complaint_id: int | None = None) -> list[Notice]:
    """A member of staff refused our message (403): mark them once, tell their supervisor, and give
    the ticket that could not reach them (if still waiting for them) to someone else."""
    await fresh_transaction(session)
    person = await session.get(Staff, staff_id)
    if person is None:
        await session.commit()
        return []
    notices: list[Notice] = []
    marked = await session.exec(update(Staff).where(Staff.id == staff_id, col(Staff.unreachable).is_(False))
                                .values(unreachable=True))
    if marked.rowcount:
        person.unreachable = True
        supervisor = await staff_service.supervisor_of(session, person.team_id)
        if supervisor is not None and supervisor.id != person.id:
            notices.append(to_staff(NoticeKind.STAFF_UNREACHABLE, supervisor.id, None, name=person.name))
    complaint = await session.get(Complaint, complaint_id) if complaint_id else None
    if (complaint is not None and complaint.assignee_id == staff_id
            and complaint.status in (Status.NEW.value, Status.ASSIGNED.value, Status.REOPENED.value)):
        notices += await route(session, complaint, actor=Actor.system(), now=now, exclude={staff_id},
                               header="reassign")
    outbox.put(session, notices, now)
    await session.commit()
    return notices


async def resident_unreachable(session: AsyncSession, resident_id: int) -> None:
    """A resident refused our message (403, blocked or never started): remember it."""
    await fresh_transaction(session)
    await session.exec(update(Resident).where(Resident.id == resident_id, col(Resident.unreachable).is_(False))
                       .values(unreachable=True))
    await session.commit()


async def team_name(session: AsyncSession, team_id: int | None) -> str | None:
    team = await session.get(Team, team_id) if team_id else None
    return team.name if team else None


async def staff_of_chat(session: AsyncSession, chat_id: int) -> Staff | None:
    return (await session.exec(select(Staff).where(Staff.chat_id == chat_id))).first()


async def remove_staff(session: AsyncSession, staff_id: int, *, now: datetime) -> tuple[Staff, list[Notice]]:
    """Deactivate a member of staff; their open tickets go to someone else in the same transaction."""
    async with writing(session):
        person = await session.get(Staff, staff_id, populate_existing=True)
        if person is None or not person.active:
            raise staff_service.StaffError("no_staff", id=staff_id)
        person.active, person.removed_at = False, now
        session.add(person)
        await session.flush()
        tickets = (await session.exec(select(Complaint).where(
            Complaint.assignee_id == person.id, col(Complaint.status).in_(staff_service.OPEN_FOR_LOAD)
        ).order_by(col(Complaint.id)))).all()
        notices: list[Notice] = []
        for complaint in tickets:
            notices += await route(session, complaint, actor=Actor.system(), now=now, exclude={person.id},
                                   header="reassign")
        outbox.put(session, notices, now)
        await session.commit()
    return person, notices


async def dispatch(session: AsyncSession, complaint_id: int, *, now: datetime) -> list[Notice]:
    """Route a ticket that has none yet (or again), in a transaction of its own."""
    async with writing(session):
        complaint = await session.get(Complaint, complaint_id, populate_existing=True, with_for_update=True)
        notices = await route(session, complaint, actor=Actor.system(), now=now)
        outbox.put(session, notices, now)
        await session.commit()
    return notices
