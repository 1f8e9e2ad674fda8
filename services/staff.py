"""Teams, staff, one-time invites and routing of complaints to a person (SPEC "Routing")."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import tomllib
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, event, func, update
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import Complaint, Invite, Staff, Team
from models.types import utcnow
from services.domain import Category, Flag, Severity
from services.errors import DeskError

ROLES = ("staff", "supervisor", "manager", "admin", "desk")  # desk: 客服代表 at the web console
INVITE_CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class TeamSpec:
    code: str
    name: str
    categories: tuple[str, ...]
    special: bool = False


def _default_teams() -> tuple[TeamSpec, ...]:
    """Sensible defaults (services/seed/teams.toml), seeded once; admins edit the table afterwards."""
    with (Path(__file__).resolve().parent / "seed" / "teams.toml").open("rb") as handle:
        rows = tomllib.load(handle)["team"]
    return tuple(TeamSpec(row["code"], row["name"], tuple(row["categories"]), row.get("special", False))
                 for row in rows)


DEFAULT_TEAMS: tuple[TeamSpec, ...] = _default_teams()
# Checked in this order: a bribery report goes to audit even when an employee files it.
FLAG_DESKS = {Flag.CUSTOMER_REPORT.value: "audit", Flag.STAFF_REPORT.value: "hr"}
FALLBACK_TEAM = "service"
# Flags that make a complaint major (重大投诉): the supervisor hears of it at once.
MAJOR_FLAGS = frozenset({"major", Flag.LAWSUIT.value, Flag.MEDIA.value, Flag.GROUP.value})


class StaffError(DeskError):
    """A staff operation that cannot be done (a code and parameters)."""


class InviteError(StaffError):
    """An invite code that is unknown, used or expired."""


async def seed_teams(session: AsyncSession) -> list[Team]:
    """Create the default teams that are missing; existing ones are left as edited."""
    existing = {t.code for t in (await session.exec(select(Team))).all()}
    missing = [spec for spec in DEFAULT_TEAMS if spec.code not in existing]
    if missing:
        await fresh_transaction(session)
        for spec in missing:
            session.add(Team(code=spec.code, name=spec.name, categories=list(spec.categories), special=spec.special))
        await session.commit()
    return list((await session.exec(select(Team).order_by(col(Team.id)))).all())


async def teams(session: AsyncSession) -> Sequence[Team]:
    return (await session.exec(select(Team).order_by(col(Team.id)))).all()


async def team_by_code(session: AsyncSession, code: str) -> Team:
    team = (await session.exec(select(Team).where(Team.code == code))).first()
    if team is None:
        known = ", ".join(t.code for t in await teams(session))
        raise StaffError("unknown_team", code=code, known=known)
    return team


async def team_for_category(session: AsyncSession, category: str) -> Team:
    """The non-special team that lists this category, else customer service: the row of
    :func:`routing_team`'s choice (one rule for filing and for a category correction)."""
    chosen = await routing_team(session, category)
    team = await session.get(Team, chosen.id)
    if team is None:  # removed by another process since the table was kept: read it again
        forget_teams()
        team = await session.get(Team, (await routing_team(session, category)).id)
    if team is None:
        raise StaffError("unknown_team", code=chosen.code, known="")
    return team


@dataclass(frozen=True)
class TeamInfo:
    """A team as routing reads it (a copy: never added to a session)."""

    id: int
    code: str
    name: str
    categories: tuple[str, ...]
    special: bool


class TeamDirectory:
    """The team table for routing, read once and kept, so filing a ticket needs no SELECT of it.

    Kept per database (per engine). Any change of a team made in this process (ORM flushes of
    Team rows, bulk INSERT/UPDATE/DELETE of the table: the CLI, the console, seeding) drops every
    copy at once; a change made by another process (``python -m bot teams set`` while the bot
    runs, a console in its own process) is seen after ``ttl`` seconds at the latest.
    """

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine → (read at, teams)
        self._generation = 0  # counts changes, so a read that overlapped one is not kept
        self.reads = 0  # how often the table was read (tests)
        _directories.add(self)

    @staticmethod
    def _engine(session: AsyncSession):
        bind = session.bind
        return getattr(bind, "sync_engine", bind)

    async def teams(self, session: AsyncSession) -> tuple[TeamInfo, ...]:
        engine = self._engine(session)
        kept = self._kept.get(engine)
        if kept is not None and self.clock() - kept[0] <= self.ttl:
            return kept[1]
        generation = self._generation
        rows = (await session.exec(select(Team).order_by(col(Team.id)))).all()
        self.reads += 1
        found = tuple(TeamInfo(t.id, t.code, t.name, tuple(t.categories or ()), bool(t.special)) for t in rows)
        if generation == self._generation:  # no change was seen while reading
            self._kept[engine] = (self.clock(), found)
        return found

    async def team(self, session: AsyncSession, team_id: int) -> TeamInfo | Team | None:
        """One team by id from the kept table (a team created since, elsewhere: read from the database)."""
        found = next((team for team in await self.teams(session) if team.id == team_id), None)
        return found if found is not None else await session.get(Team, team_id)

    def clear(self) -> None:
        self._generation += 1
        self._kept.clear()


_directories: weakref.WeakSet[TeamDirectory] = weakref.WeakSet()
TEAMS = TeamDirectory()


def forget_teams() -> None:
    """Drop every kept copy of the team table (called on any change of a team in this process)."""
    for directory in list(_directories):
        directory.clear()


@event.listens_for(Session, "before_flush")
def _teams_flushed(session: Session, _context, _instances) -> None:
    if any(isinstance(obj, Team) for obj in (*session.new, *session.dirty, *session.deleted)):
        forget_teams()


@event.listens_for(Session, "do_orm_execute")
def _teams_bulk_changed(state) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == Team.__tablename__:
        forget_teams()


async def routing_team(session: AsyncSession, category: str, flags: Sequence[str] = (),
                       directory: TeamDirectory | None = None) -> TeamInfo:
    """The team a complaint goes to: the flag's desk (bribery → audit, staff report → HR), else the
    non-special team that lists its category, else customer service (as ``team_by_code`` and
    ``team_for_category``, from the kept team table)."""
    teams_ = await (directory or TEAMS).teams(session)
    desk = next((FLAG_DESKS[f] for f in FLAG_DESKS if f in flags), None)
    if desk is None:
        for team in teams_:
            if not team.special and category in team.categories:
                return team
    wanted = desk or FALLBACK_TEAM
    for team in teams_:
        if team.code == wanted:
            return team
    raise StaffError("unknown_team", code=wanted, known=", ".join(t.code for t in teams_))


_LEADERS_MEMO = "huifang_leaders"  # in session.info, only inside remembering_leaders()
_LEADERS = (select(Staff).where(col(Staff.role).in_(("manager", "admin")), col(Staff.active).is_(True))
            .order_by(col(Staff.id)))


async def leaders(session: AsyncSession) -> list[Staff]:
    """Active managers and admins by id (reachable or not, with Telegram or console only); read
    once inside :func:`remembering_leaders`."""
    memo = session.info.get(_LEADERS_MEMO)
    if memo:
        return list(memo[0])
    rows = list((await session.exec(_LEADERS)).all())
    if memo is not None:
        memo.append(rows)
    return rows


@contextmanager
def remembering_leaders(session: AsyncSession) -> Iterator[None]:
    """Read the managers and admins once for a use case that changes no staff (see ``leaders``)."""
    session.info[_LEADERS_MEMO] = []
    try:
        yield
    finally:
        session.info.pop(_LEADERS_MEMO, None)


def remembers_leaders(session: AsyncSession) -> bool:
    return session.info.get(_LEADERS_MEMO) is not None


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def create_invite(
    session: AsyncSession, *, name: str, team_code: str | None, role: str = "staff",
    ttl: timedelta = timedelta(days=3), now: datetime | None = None,
) -> tuple[Staff, str]:
    """Create a staff record and a single-use code for it; the code itself is not stored."""
    name = " ".join(name.split())
    if not name or len(name) > 64:
        raise StaffError("name_invalid")
    if role not in ROLES:
        raise StaffError("unknown_role", role=role, roles=", ".join(ROLES))
    team = await team_by_code(session, team_code) if team_code else None
    if team is None and role in ("staff", "supervisor"):
        raise StaffError("team_required")
    now = now or utcnow()
    code = secrets.token_urlsafe(18)
    await fresh_transaction(session)
    staff = Staff(name=name, role=role, team_id=team.id if team else None)
    session.add(staff)
    await session.flush()
    session.add(Invite(code_hash=hash_code(code), staff_id=staff.id, created_at=now, expires_at=now + ttl))
    await session.commit()
    return staff, code


async def redeem_invite(
    session: AsyncSession, code: str, *, telegram_id: int, chat_id: int, now: datetime | None = None
) -> Staff:
    """Bind the Telegram account to the invited staff record; the code works once."""
    if not INVITE_CODE.fullmatch(code or ""):
        raise InviteError("invite_invalid")
    now = now or utcnow()
    await fresh_transaction(session)
    claimed = await session.exec(
        update(Invite)
        .where(Invite.code_hash == hash_code(code), col(Invite.used_at).is_(None), Invite.expires_at > now)
        .values(used_at=now)
        .returning(Invite.staff_id)
    )
    staff_id = claimed.scalar_one_or_none()
    if staff_id is None:
        await session.rollback()
        invite = (await session.exec(select(Invite).where(Invite.code_hash == hash_code(code)))).first()
        if invite is None:
            raise InviteError("invite_invalid")
        if invite.used_at is not None:
            raise InviteError("invite_used")
        raise InviteError("invite_expired")
    other = (await session.exec(select(Staff).where(Staff.telegram_id == telegram_id))).first()
    if other is not None and other.id != staff_id:
        await session.rollback()
        raise InviteError("already_bound", name=other.name)
    staff = await session.get(Staff, staff_id)
    if staff is None or not staff.active:
        await session.rollback()
        raise InviteError("staff_removed")
    staff.telegram_id, staff.chat_id, staff.bound_at, staff.unreachable = telegram_id, chat_id, now, False
    session.add(staff)
    await session.commit()
    return staff


async def staff_by_telegram(session: AsyncSession, telegram_id: int) -> Staff | None:
    return (
        await session.exec(select(Staff).where(Staff.telegram_id == telegram_id, col(Staff.active).is_(True)))
    ).first()


async def list_staff(session: AsyncSession, *, include_removed: bool = False) -> Sequence[Staff]:
    statement = select(Staff).order_by(col(Staff.team_id), col(Staff.id))
    if not include_removed:
        statement = statement.where(col(Staff.active).is_(True))
    return (await session.exec(statement)).all()


async def team_members(session: AsyncSession, team: Team, *, roles: tuple[str, ...] = ("staff", "supervisor")) -> Sequence[Staff]:
    statement = select(Staff).where(
        Staff.team_id == team.id, col(Staff.active).is_(True), col(Staff.role).in_(roles)
    ).order_by(col(Staff.id))
    return (await session.exec(statement)).all()


def can_supervise(complaint: Complaint, staff: Staff) -> bool:
    """The team's supervisor, managers and admins."""
    return staff.role in ("manager", "admin") or (staff.role == "supervisor" and complaint.team_id == staff.team_id)


async def supervisor_of(session: AsyncSession, team_id: int | None) -> Staff | None:
    """The team's supervisor who can be reached, if any."""
    if team_id is None:
        return None
    statement = select(Staff).where(
        Staff.team_id == team_id, Staff.role == "supervisor", col(Staff.active).is_(True),
        col(Staff.telegram_id).is_not(None), col(Staff.unreachable).is_(False),
    ).order_by(col(Staff.id))
    return (await session.exec(statement)).first()


async def people_with_role(session: AsyncSession, *roles: str) -> Sequence[Staff]:
    statement = select(Staff).where(
        col(Staff.role).in_(roles), col(Staff.active).is_(True), col(Staff.telegram_id).is_not(None),
        col(Staff.unreachable).is_(False),
    )
    return (await session.exec(statement)).all()


OPEN_FOR_LOAD = ("assigned", "accepted", "reopened")


def _candidates_statement():
    load = (
        select(Complaint.assignee_id, func.count().label("open"))
        .where(col(Complaint.status).in_(OPEN_FOR_LOAD))
        .group_by(Complaint.assignee_id)
        .subquery()
    )
    return (
        select(Staff)
        .outerjoin(load, load.c.assignee_id == Staff.id)
        .where(
            Staff.team_id == bindparam("team_id"), col(Staff.role).in_(("staff", "supervisor")),
            col(Staff.active).is_(True), col(Staff.telegram_id).is_not(None), col(Staff.unreachable).is_(False),
        )
        .order_by(
            Staff.role != "staff",  # staff members first
            func.coalesce(load.c.open, 0),
            col(Staff.last_assigned_at).is_not(None),  # never assigned first
            col(Staff.last_assigned_at),
            col(Staff.id),
        )
    )


# Built once: building this statement cost more than running it (every ticket is routed with it).
_TEAM_CANDIDATES = _candidates_statement()


async def _team_candidates(session: AsyncSession, team: Team | TeamInfo) -> list[Staff]:
    """The team's reachable staff members by load (fewest open tickets, then idle longest), then its
    reachable supervisors in the same order: one query for choosing an assignee and the supervisor."""
    return list((await session.exec(_TEAM_CANDIDATES, params={"team_id": team.id})).all())


def _first_free(candidates: list[Staff], exclude: set[int]) -> Staff | None:
    return next((person for person in candidates if person.id not in exclude), None)


async def choose_assignee(session: AsyncSession, team: Team, *, exclude: set[int] = frozenset()) -> Staff | None:
    """The reachable member with the fewest open tickets; ties go to the one idle longest.

    Staff members are preferred; the supervisor takes tickets only when nobody else can.
    """
    return _first_free(await _team_candidates(session, team), exclude)


@dataclass(frozen=True)
class Routing:
    """Where a complaint goes and who else must hear of it."""

    team: Team | TeamInfo
    assignee: Staff | None
    supervisor: Staff | None
    notify_supervisor: bool


async def route(session: AsyncSession, complaint: Complaint, *, exclude: set[int] = frozenset(),
                team: Team | TeamInfo | None = None, major: bool = False) -> Routing:
    """Team by flag desk or category (``team``: already chosen so), person by load; supervisor for
    urgent, major (``major``: a ticket about to become one), or nobody free. ``complaint`` may be one
    not stored yet: only its category, severity, flags and major are read."""
    if team is None:
        team = await routing_team(session, complaint.category, complaint.flags)
    candidates = await _team_candidates(session, team)
    assignee = _first_free(candidates, exclude)
    # the same as supervisor_of: the team's reachable supervisor with the lowest id
    supervisor = min((p for p in candidates if p.role == "supervisor"), key=lambda p: p.id, default=None)
    serious = (complaint.severity == Severity.URGENT.value or complaint.major or major
               or bool(MAJOR_FLAGS & set(complaint.flags)))
    notify = supervisor is not None and (serious or assignee is None) and (assignee is None or supervisor.id != assignee.id)
    return Routing(team=team, assignee=assignee, supervisor=supervisor, notify_supervisor=notify)


async def open_load(session: AsyncSession, team: Team) -> dict[int, int]:
    """Open tickets per member of a team (for choosing by hand)."""
    statement = (
        select(Complaint.assignee_id, func.count())
        .where(Complaint.team_id == team.id, col(Complaint.status).in_(OPEN_FOR_LOAD))
        .group_by(Complaint.assignee_id)
    )
    return {assignee: count for assignee, count in (await session.exec(statement)).all() if assignee is not None}


async def set_team(session: AsyncSession, code: str, *, name: str | None = None,
                   categories: list[str] | None = None) -> Team:
    """Create or edit a team; categories move here from whichever team had them."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", code):
        raise StaffError("team_code_invalid")
    known = {c.value for c in Category}
    unknown = [c for c in categories or [] if c not in known]
    if unknown:
        raise StaffError("unknown_categories", unknown=", ".join(unknown), known=", ".join(known))
    team = (await session.exec(select(Team).where(Team.code == code))).first()
    if team is None and not name:
        raise StaffError("team_name_required")
    others = (await session.exec(select(Team).where(Team.code != code))).all()
    await fresh_transaction(session)
    if team is None:
        team = Team(code=code, name=name, categories=[])
    if name:
        team.name = name
    if categories is not None:
        for other in others:
            if set(other.categories) & set(categories):
                other.categories = [c for c in other.categories if c not in categories]
                session.add(other)
        team.categories = list(categories)
    session.add(team)
    await session.commit()
    return team
