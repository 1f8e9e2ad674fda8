"""``python -m bot web``: the desk's web console alone, without polling Telegram."""

from __future__ import annotations

import asyncio
import signal
from typing import TextIO

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from services.staff import seed_teams


async def serve(settings: Settings, *, out: TextIO, err: TextIO) -> int:
    from web import WebContext, create_app
    from web.server import WebServer

    if not settings.web_port:
        err.write("error: WEB_PORT=0 turns the console off; set WEB_PORT (e.g. 8080)\n")
        return 2
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    async with sessions() as session:
        await seed_teams(session)
    server = WebServer(create_app(WebContext(settings, sessions)), settings.web_host, settings.web_port)
    try:
        await server.start()
    except RuntimeError as error:
        err.write(f"error: {error}\n")
        await engine.dispose()
        return 2
    out.write(f"web console on {settings.web_url}\n")
    out.flush()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await server.stop()
        await engine.dispose()
    return 0


async def apikey(action: str, name: str | None, *, out: TextIO, err: TextIO, settings: Settings | None = None,
                 now=None) -> int:
    """``apikey create|revoke|list``."""
    from bot.staff_cli import cli_error
    from models.types import utcnow
    from services import api_keys
    from services.errors import DeskError

    settings = settings or Settings()
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            if action == "create":
                row, raw = await api_keys.create_key(session, name or "", now=now or utcnow())
                out.write(f"API key for {row.name} (shown once; send it as 'Authorization: Bearer KEY'):\n{raw}\n")
            elif action == "revoke":
                row = await api_keys.revoke(session, name or "", now=now or utcnow())
                out.write(f"revoked the key of {row.name}\n")
            else:
                for row in await api_keys.list_keys(session):
                    state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
                    out.write(f"{row.name}\t{row.prefix}…\t{state}\n")
    except DeskError as error:
        err.write(f"error: {cli_error(error)}\n")
        return 2
    finally:
        await engine.dispose()
    return 0
