"""Middlewares that put a database session and the current resident into handler data."""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import STATEMENTS_INFO, statement_sessions
from models.tables import Resident
from services.lifecycle import ResidentProfile, get_or_create_resident

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """One session per update, closed when the update is handled."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        statements = statement_sessions(sessions)
        # an update that only reads one thing (the intake's last location) reads it without a transaction
        self.info = {STATEMENTS_INFO: statements} if statements is not sessions else None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            if self.info:
                session.sync_session.info.update(self.info)
            data["session"] = session
            return await handler(event, data)


_RESIDENT_COLUMNS = tuple(column.key for column in Resident.__table__.columns)
_RESIDENT_MANAGER = manager_of_class(Resident)
_caches: weakref.WeakSet[ResidentCache] = weakref.WeakSet()


class ResidentCache:
    """The Resident rows of the people who wrote lately, so an update needs no SELECT for them.

    An entry serves only while the person's Telegram profile (name, username, chat, language) is
    what it was when the row was read, and the row is reachable: exactly the case in which
    ``get_or_create_resident`` would change nothing. Every change of a resident row made in this
    process drops it (ORM flushes: that person; bulk UPDATE/DELETE of the table: everyone), and an
    entry is read again after ``ttl`` seconds at the latest (changes by other processes, e.g. the
    retention CLI). Several processes serving updates (webhook mode) do not use it.
    """

    def __init__(self, size: int = 10_000, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self.clock = size, ttl, clock
        self._entries: OrderedDict[int, tuple[float, tuple, dict[str, Any]]] = OrderedDict()
        _caches.add(self)

    @staticmethod
    def _seen(profile: ResidentProfile) -> tuple:
        return profile.name[:128], profile.username, profile.chat_id, profile.language_code

    def get(self, profile: ResidentProfile) -> Resident | None:
        """A detached Resident for this profile (attach it with ``session.add``), or None."""
        entry = self._entries.get(profile.telegram_id)
        if entry is None:
            return None
        at, seen, row = entry
        if seen != self._seen(profile) or self.clock() - at > self.ttl:
            del self._entries[profile.telegram_id]
            return None
        self._entries.move_to_end(profile.telegram_id)
        # Built as a query builds a loaded row (no per-field __init__: 8 µs instead of 45), then
        # marked as loaded and detached: adding it to a session issues nothing.
        resident = _RESIDENT_MANAGER.new_instance()
        resident.__dict__.update(row)
        make_transient_to_detached(resident)
        return resident

    def put(self, profile: ResidentProfile, resident: Resident) -> None:
        row = {key: getattr(resident, key) for key in _RESIDENT_COLUMNS}
        if resident.unreachable or resident.id is None or (row["name"], row["username"], row["chat_id"],
                                                            row["language_code"]) != self._seen(profile):
            self._entries.pop(profile.telegram_id, None)
            return
        self._entries[profile.telegram_id] = (self.clock(), self._seen(profile), row)
        self._entries.move_to_end(profile.telegram_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def discard(self, telegram_id: int | None) -> None:
        self._entries.pop(telegram_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@event.listens_for(Session, "before_flush")
def _resident_flushed(session: Session, _context, _instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, Resident):
            for cache in list(_caches):
                cache.discard(obj.telegram_id)


@event.listens_for(Session, "do_orm_execute")
def _residents_bulk_changed(state) -> None:
    table = getattr(state.statement, "table", None)
    if (state.is_update or state.is_delete) and getattr(table, "name", None) == Resident.__tablename__:
        for cache in list(_caches):
            cache.clear()


class ResidentMiddleware(BaseMiddleware):
    """Record who is writing in a private chat and hand the Resident row to handlers (from the
    :class:`ResidentCache` when given one and it still holds the row)."""

    def __init__(self, cache: ResidentCache | None = None) -> None:
        self.cache = cache

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        message = event.message if isinstance(event, CallbackQuery) else event
        user = event.from_user if isinstance(event, (Message, CallbackQuery)) else None
        # A button's message may be inaccessible (old or forged); private chat ids equal user ids.
        chat = getattr(message, "chat", None)
        if user is None and chat is not None and chat.type == "private":
            return None  # a private message without a sender (malformed): nobody to answer
        if user is not None and (chat is None or chat.type == "private"):
            name = " ".join(filter(None, [user.first_name, user.last_name]))
            profile = ResidentProfile(
                telegram_id=user.id, chat_id=chat.id if chat else user.id, name=name,
                username=user.username, language_code=user.language_code,
            )
            session = data["session"]
            resident = self.cache.get(profile) if self.cache is not None else None
            if resident is not None:
                session.add(resident)
            else:
                resident = await get_or_create_resident(session, profile)
                if self.cache is not None:
                    self.cache.put(profile, resident)
            data["resident"] = resident
        return await handler(event, data)
