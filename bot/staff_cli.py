"""The ``python -m bot staff …`` commands: invite, list, remove (plain async functions)."""

from __future__ import annotations

from typing import TextIO

from sqlmodel import select

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from models.tables import Staff, Team
from services import staff as staff_service


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
    except staff_service.StaffError as error:
        err.write(f"error: {error}\n")
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
        out.write("no staff yet: python -m bot staff invite --name 张师傅 --team engineering\n")
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
    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            try:
                person, tickets = await staff_service.remove_staff(session, staff_id)
            except staff_service.StaffError as error:
                err.write(f"error: {error}\n")
                return 2
        out.write(f"removed staff #{person.id} {person.name}; {len(tickets)} open ticket(s) to reassign\n")
        if tickets:
            await _reassign(settings, sessions, tickets, out)
    finally:
        await engine.dispose()
    return 0


async def _reassign(settings: Settings, sessions, tickets: list[int], out: TextIO) -> None:
    """Route again; ping the new holders when a bot token is configured."""
    from bot import texts_staff as st
    from models.tables import Complaint
    from services import handling

    if settings.bot_token is None:
        for ticket_id in tickets:
            async with sessions() as session:
                complaint = await session.get(Complaint, ticket_id)
                routing = await staff_service.route(session, complaint)
                await handling.assign(session, complaint, routing, note="原处理人离职，重新派单")
            who = routing.assignee.name if routing.assignee else "nobody (waiting for the supervisor)"
            out.write(f"  {complaint.number} → {routing.team.code}: {who} (no BOT_TOKEN: not pinged)\n")
        return
    from bot.app import build_bot
    from bot.notify import Notifier
    from bot.sender import Sender, install_rate_limiter

    bot = build_bot(settings)
    notifier = Notifier(Sender(bot), sessions, settings)
    install_rate_limiter(bot, on_forbidden=notifier.on_forbidden)
    try:
        for ticket_id in tickets:
            await notifier.dispatch(ticket_id, header=st.PING_HEADER["transfer"])
            async with sessions() as session:
                complaint = await session.get(Complaint, ticket_id)
                holder = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
            out.write(f"  {complaint.number} → {holder.name if holder else 'waiting for the supervisor'} (pinged)\n")
    finally:
        await bot.session.close()


async def list_teams(*, out: TextIO, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            rows = await staff_service.teams(session)
    finally:
        await engine.dispose()
    for team in rows:
        scope = "special desk (by flag)" if team.special else ("、".join(team.categories) or "-")
        out.write(f"{team.code:<12} {team.name:<8} {scope}\n")
    return 0


async def set_team(*, code: str, name: str | None, categories: str | None, out: TextIO, err: TextIO,
                   settings: Settings | None = None) -> int:
    settings = settings or Settings()
    wanted = [c.strip() for c in categories.replace("，", ",").split(",") if c.strip()] if categories else None
    engine, sessions = await _open(settings)
    try:
        async with sessions() as session:
            team = await staff_service.set_team(session, code, name=name, categories=wanted)
    except staff_service.StaffError as error:
        err.write(f"error: {error}\n")
        return 2
    finally:
        await engine.dispose()
    out.write(f"{team.code} {team.name}: {'、'.join(team.categories) or '-'}\n")
    return 0
