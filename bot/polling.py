"""A Bot API session that survives one bad update: an update aiogram cannot validate is logged with
its ``update_id`` and handed on empty (no handler matches it), so the offset moves past it and
everyone else is answered — instead of ``getUpdates`` failing at the same offset forever."""

from __future__ import annotations

import json
import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update
from pydantic import ValidationError

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


class TolerantSession(AiohttpSession):
    """AiohttpSession whose getUpdates skips unreadable updates one by one."""

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):
            content = sanitise_updates(content, bot)
        return super().check_response(bot, method, status_code, content)
