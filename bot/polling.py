"""A Bot API session that survives one bad update: an update aiogram cannot validate is logged with
its ``update_id`` and handed on empty (no handler matches it), so the offset moves past it and
everyone else is answered — instead of ``getUpdates`` failing at the same offset forever."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

from bot.health import HANDLER_SECONDS, UPDATES

log = logging.getLogger(__name__)


def sanitise_updates(content: str, bot: Bot) -> str:
    """Replace each update that does not validate by ``{"update_id": n}``; other content unchanged."""
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return content
    cleaned, dropped = [], []
    for raw in data["result"]:
        try:
            Update.model_validate(raw, context={"bot": bot})
            cleaned.append(raw)
        except ValidationError as error:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                dropped.append(repr(raw)[:80])
                continue
            log.warning("update %s cannot be read and is skipped: %s", update_id, str(error).splitlines()[0])
            cleaned.append({"update_id": update_id})
    if dropped:
        log.warning("getUpdates returned entries without an update_id, skipped: %s", dropped)
    if len(cleaned) == len(data["result"]) and not dropped and cleaned == data["result"]:
        return content
    return json.dumps({**data, "result": cleaned})


_RESPONSE_TYPES: dict[Any, type] = {}


class TolerantSession(AiohttpSession):
    """AiohttpSession whose getUpdates skips unreadable updates one by one.

    It also holds on to aiogram's ``Response[T]`` models: pydantic keeps parametrised generics
    only weakly, so every garbage collection dropped them and the next reply rebuilt the model
    (tens of milliseconds each, several times a second under load)."""

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[index]
        if isinstance(method, GetUpdates):
            # Validated once when every update reads (the usual case); one by one only when the
            # batch as a whole does not.
            try:
                return super().check_response(bot, method, status_code, content)
            except ClientDecodeError as error:
                if not isinstance(error.original, ValidationError):
                    raise
            content = sanitise_updates(content, bot)
        return super().check_response(bot, method, status_code, content)


class BatchPoller:
    """Long polling that confirms a batch of updates only once every update in it was handled.

    aiogram's own loop confirms updates as soon as it has started their handlers, so a process
    killed mid-update loses them. Here the next ``getUpdates`` (whose offset confirms the batch)
    is sent only after the batch is done: a killed process gets the same updates again after a
    restart — at least once; the use cases are idempotent, so a repeat changes nothing. Updates of
    one batch are handled concurrently (one person's stay in order through the per-chat lock).
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, timeout: int) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.timeout = timeout
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task | None = None

    async def run(self) -> None:
        """Poll until stop(); updates already fetched are handled before returning."""
        allowed = self.dispatcher.resolve_used_update_types()
        backoff = Backoff(config=BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1))
        offset: int | None = None
        request_timeout = int((self.bot.session.timeout or 60) + self.timeout)
        while not self._stopping.is_set():
            self._fetch = asyncio.create_task(self.bot.get_updates(
                offset=offset, timeout=self.timeout, allowed_updates=allowed, request_timeout=request_timeout))
            self.ready.set()
            try:
                updates = await self._fetch
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    break
                raise
            except Exception as error:  # network trouble, 409 from a second poller …: wait and try again
                log.error("getUpdates failed: %s: %s", type(error).__name__, error)
                await backoff.asleep()
                continue
            finally:
                self._fetch = None
            backoff.reset()
            if updates:
                await asyncio.gather(*(self._handle(update) for update in updates))
                offset = updates[-1].update_id + 1

    async def _handle(self, update: Update) -> None:
        try:
            update.event_type  # noqa: B018 - raises for an update without anything in it
        except UpdateTypeLookupError:
            return  # an unreadable update we emptied (see sanitise_updates), or an unknown kind
        UPDATES.labels(kind=update.event_type).inc()
        try:
            with HANDLER_SECONDS.time():
                await self.dispatcher.feed_update(self.bot, update)
        except Exception:  # the errors router already answered; never let one update stop the loop
            log.exception("update %s failed", update.update_id)

    def stop(self) -> None:
        """Stop after the batch in hand (a long poll that is only waiting is cut short)."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()
