"""The ``python -m bot staff …`` commands: invite, list, remove (plain async functions)."""

from __future__ import annotations

from typing import TextIO

from sqlmodel import select

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from models.tables import Staff, Team
from services import staff as staff_service
from services.errors import DeskError


def cli_error(error: DeskError) -> str:
    """A refusal in English for the operator's terminal (the same catalogue as the bot's)."""
    from bot.i18n import catalogues
    from bot.texts import error_text

    with catalogues().use_locale("en"):
        return error_text(error)


async def _open(settings: Settings):
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    async with sessions() as session:
        await staff_service.seed_teams(session)
    return engine, sessions


async def bot_username(settings: Settings) -> str | None:
    """BOT_USERNAME if set, else ask the Bot API (getMe) with BOT_TOKEN."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.bot_token is None:
        return None
    from bot.app import build_bot

    bot = build_bot(settings)
    try:
        return (await bot.get_me()).username
    finally:
        await bot.session.close()


async def invite(*, name: str, team: str | None, role: str, out: TextIO, err: TextIO,
                 settings: Settings | None = None) -> int:
    settings = settings or Settings()
    try:
        username = await bot_username(settings)
    except Exception as error:  # network or a bad token: say so plainly
        err.write(f"error: cannot ask Telegram for the bot's username ({error}); set BOT_USERNAME\n")
        return 2
    if not username:
        err.write("error: set BOT_TOKEN (the username is read with getMe) or BOT_USERNAME to build the link\n")
        return 2
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            person, code = await staff_service.create_invite(
                session, name=name, team_code=team, role=role, ttl=settings.invite_ttl
            )
            team_row = await session.get(Team, person.team_id) if person.team_id else None
    except DeskError as error:
        err.write(f"error: {cli_error(error)}\n")
        return 2
    finally:
        await engine.dispose()
    hours = int(settings.invite_ttl.total_seconds() // 3600)
    out.write(f"staff #{person.id} {person.name} ({team_row.code if team_row else '-'}, {person.role}); "
              f"the link works once and expires in {hours} h:\n")
    out.write(f"https://t.me/{username}?start={code}\n")
    return 0


async def list_staff(*, include_removed: bool, out: TextIO, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            people = await staff_service.list_staff(session, include_removed=include_removed)
            teams = {t.id: t for t in (await session.exec(select(Team))).all()}
            loads: dict[int, int] = {}
            for team in teams.values():
                loads.update(await staff_service.open_load(session, team))
    finally:
        await engine.dispose()
    if not people:
        out.write("no staff yet: python -m bot staff invite --name NAME --team engineering\n")
        return 0
    out.write(f"{'id':>4}  {'name':<12} {'team':<12} {'role':<10} {'telegram':<12} {'open':>4}  state\n")
    for person in people:
        team = teams.get(person.team_id)
        state = "removed" if not person.active else ("unreachable" if person.unreachable else
                                                     ("bound" if person.telegram_id else "invited"))
        out.write(f"{person.id:>4}  {person.name:<12} {(team.code if team else '-'):<12} {person.role:<10} "
                  f"{str(person.telegram_id or '-'):<12} {loads.get(person.id, 0):>4}  {state}\n")
    return 0


async def remove(*, staff_id: int, out: TextIO, err: TextIO, settings: Settings | None = None) -> int:
    """Deactivate; their open tickets are routed again in the same transaction and the new holders'
    pings are queued (the running bot delivers them)."""
    from models.tables import Complaint
    from models.types import utcnow
    from services import routing
    from services.notices import NoticeKind

    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            try:
                person, notices = await routing.remove_staff(session, staff_id, now=utcnow())
            except DeskError as error:
                err.write(f"error: {cli_error(error)}\n")
                return 2
            moved = sorted({n.complaint_id for n in notices if n.complaint_id})
            out.write(f"removed staff #{person.id} {person.name}; {len(moved)} open ticket(s) reassigned\n")
            for complaint_id in moved:
                complaint = await session.get(Complaint, complaint_id)
                holder = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
                out.write(f"  {complaint.number} → {holder.name if holder else 'waiting for the supervisor'}\n")
            if any(n.kind is NoticeKind.ASSIGNED for n in notices):
                out.write("the new holders' pings are queued: the running bot sends them\n")
    finally:
        await engine.dispose()
    return 0


async def list_teams(*, out: TextIO, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            rows = await staff_service.teams(session)
    finally:
        await engine.dispose()
    for team in rows:
        scope = "special desk (by flag)" if team.special else (", ".join(team.categories) or "-")
        out.write(f"{team.code:<12} {team.name:<8} {scope}\n")
    return 0


async def set_team(*, code: str, name: str | None, categories: str | None, out: TextIO, err: TextIO,
                   settings: Settings | None = None) -> int:
    settings = settings or Settings()
    wanted = [c.strip() for c in categories.replace("\uff0c", ",").split(",") if c.strip()] if categories else None
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            team = await staff_service.set_team(session, code, name=name, categories=wanted)
    except DeskError as error:
        err.write(f"error: {cli_error(error)}\n")
        return 2
    finally:
        await engine.dispose()
    out.write(f"{team.code} {team.name}: {', '.join(team.categories) or '-'}\n")
    return 0


async def login_link(*, name_or_id: str, out: TextIO, err: TextIO, settings: Settings | None = None,
                     now=None) -> int:
    """``staff login NAME_OR_ID``: a one-time console login link on the last line."""
    from models.types import utcnow
    from services import web_auth

    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            person = await web_auth.find_staff(session, name_or_id)
            token = await web_auth.create_login_link(session, person, now=now or utcnow(), ttl=settings.web_login_ttl)
    except DeskError as error:
        err.write(f"error: {cli_error(error)}\n")
        return 2
    finally:
        await engine.dispose()
    minutes = int(settings.web_login_ttl.total_seconds() // 60)
    out.write(f"staff #{person.id} {person.name} ({person.role}); the link works once and expires in {minutes} min:\n")
    out.write(f"{settings.web_url}/login/{token}\n")
    return 0
