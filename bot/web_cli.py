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
