"""Webhook mode: Telegram (or the load balancer in front of several bot processes) POSTs updates here.

An update is acknowledged (200) only once it was handled, so a process killed mid-update loses
nothing: Telegram retries, and the claim per ``update_id`` (services.updates) makes the retry a
no-op when the first attempt finished — whichever process gets it. A request without the right
``X-Telegram-Bot-Api-Secret-Token`` is refused (401) and not looked at. Stopping (SIGTERM) stops
taking requests and lets those in hand finish.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlparse

from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot import health
from services import updates

log = logging.getLogger(__name__)


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` → (host, port)."""
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


class WebhookServer:
    """The aiohttp side of webhook mode, for one HuifangApp."""

    def __init__(self, app) -> None:  # app: bot.app.HuifangApp
        self.app = app
        settings = app.settings
        self.path = urlparse(settings.webhook_url).path or "/"
        self.secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        self.host, self.port = listen_address(settings.webhook_listen)
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        web_app = web.Application()
        web_app.add_routes([web.post(self.path, self.handle), *health.routes(self.app)])
        return web_app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=30.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tests: the port the system chose
            self.port = self._runner.addresses[0][1]
        log.info("webhook: listening on %s:%s%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        """Stop taking requests; those in hand finish (up to 30 s)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.Request) -> web.Response:
        """One update: check the secret, claim it, handle it, then acknowledge."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if self.secret and not hmac.compare_digest(given, self.secret):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            data = await request.json()
            update_id = data["update_id"]
            if not isinstance(update_id, int):
                raise TypeError("update_id")
        except (ValueError, KeyError, TypeError):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        app = self.app
        async with app.sessions() as session:
            verdict = await updates.claim(session, update_id, now=app.clock(), lease=app.settings.webhook_claim_lease)
        if verdict == updates.DONE:
            return web.json_response({"ok": True, "duplicate": True})
        if verdict == updates.BUSY:  # another process is on it: Telegram will ask again
            return web.json_response({"ok": False, "error": "in progress"}, status=503, headers={"Retry-After": "1"})
        health.UPDATES.labels(kind=next((k for k in data if k != "update_id"), "empty")).inc()
        try:
            update = Update.model_validate(data, context={"bot": app.bot})
        except ValidationError as error:
            log.warning("update %s cannot be read and is skipped: %s", update_id, str(error).splitlines()[0])
        else:
            with health.HANDLER_SECONDS.time():
                await app.dispatcher.feed_update(app.bot, update)
        async with app.sessions() as session:
            await updates.finish(session, update_id, now=app.clock())
        return web.json_response({"ok": True})
