"""Webhook delivery, as Telegram does it: once ``setWebhook`` is called, pending updates are POSTed
to the URL (with ``X-Telegram-Bot-Api-Secret-Token``) instead of being kept for ``getUpdates``.

An update leaves the queue only when the bot answers 2xx; a refusal, an error or a timeout is
retried after a short pause (so a bot process that dies mid-update gets it again). Updates of one
chat go one at a time and in order; different chats are delivered concurrently, up to
``max_connections`` at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


@dataclass
class Webhook:
    url: str
    secret: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
    attempts: int = 0
    retry_at: dict[int, float] = field(default_factory=dict)  # update_id → monotonic time of next try


def chat_of(update: dict[str, Any]) -> Any:
    """The chat an update belongs to (for ordering), or its user, or the update itself."""
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return sender["id"]
    return ("update", update.get("update_id"))


class WebhookPusher:
    """Runs while the server runs; delivers whenever a webhook is set and updates are pending."""

    def __init__(self, server, *, timeout: float = 10.0, retry_after: float = 0.5) -> None:
        self.server = server
        self.timeout = timeout
        self.retry_after = retry_after
        self._task: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: dict[Any, asyncio.Task] = {}

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            world = self.server.world
            hook: Webhook | None = getattr(world, "webhook", None)
            if hook is not None:
                now = time.monotonic()
                busy = set(self._in_flight)
                for update in list(world.updates):
                    if len(self._in_flight) >= hook.max_connections:
                        break
                    chat = chat_of(update)
                    if chat in busy:
                        continue
                    busy.add(chat)  # later updates of this chat wait for this one
                    if hook.retry_at.get(update["update_id"], 0) > now:
                        continue
                    self._in_flight[chat] = asyncio.create_task(self._deliver(hook, chat, update))
            await self.server.updates.wait_until(lambda: False, 0.05)

    async def _deliver(self, hook: Webhook, chat: Any, update: dict[str, Any]) -> None:
        world = self.server.world
        headers = {"Content-Type": "application/json"}
        if hook.secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret
        hook.attempts += 1
        try:
            async with self._session.post(hook.url, data=json.dumps(update, ensure_ascii=False),
                                          headers=headers) as response:
                ok = 200 <= response.status < 300
                error = None if ok else f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            ok, error = False, f"Connection failed: {type(exc).__name__}"
        finally:
            self._in_flight.pop(chat, None)
        if ok:
            world.updates = [u for u in world.updates if u["update_id"] != update["update_id"]]
            hook.retry_at.pop(update["update_id"], None)
            hook.delivered += 1
            world.webhook_deliveries.append(update["update_id"])
            world.webhook_log.append(update)
        else:
            hook.last_error_date, hook.last_error_message = int(time.time()), error
            hook.retry_at[update["update_id"]] = time.monotonic() + self.retry_after
        self.server.updates.notify()
