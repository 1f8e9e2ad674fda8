"""Middlewares that put a database session and the current resident into handler data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.lifecycle import ResidentProfile, get_or_create_resident

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """One session per update, closed when the update is handled."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            data["session"] = session
            return await handler(event, data)


class ResidentMiddleware(BaseMiddleware):
    """Record who is writing in a private chat and hand the Resident row to handlers."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        message = event.message if isinstance(event, CallbackQuery) else event
        user = event.from_user if isinstance(event, (Message, CallbackQuery)) else None
        # A button's message may be inaccessible (old or forged); private chat ids equal user ids.
        chat = getattr(message, "chat", None)
        if user is None and chat is not None and chat.type == "private":
            return None  # a private message without a sender (malformed): nobody to answer
        if user is not None and (chat is None or chat.type == "private"):
            name = " ".join(filter(None, [user.first_name, user.last_name]))
            data["resident"] = await get_or_create_resident(
                data["session"],
                ResidentProfile(
                    telegram_id=user.id, chat_id=chat.id if chat else user.id, name=name,
                    username=user.username, language_code=user.language_code,
                ),
            )
        return await handler(event, data)
