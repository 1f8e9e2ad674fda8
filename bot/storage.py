"""Conversation (FSM) state kept in the database, so an intake in progress survives a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import FsmRecord
from models.types import utcnow


class SqlStorage(BaseStorage):
    """aiogram FSM storage on the project's SQL database (SQLite or PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_destiny=True, with_bot_id=True)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        """One upsert (or delete) statement: never a read followed by a write."""
        record_key = self._keys.build(key)
        table = FsmRecord.__table__
        async with self._sessions() as session:
            current = await self._read(key) if len(values) == 1 else None
            state = values["state"] if "state" in values else (current.state if current else None)
            data = values["data"] if "data" in values else (dict(current.data) if current else {})
            if state is None and not data:
                await (await session.connection()).execute(delete(table).where(table.c.key == record_key))
            else:
                insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
                row = {"key": record_key, "state": state, "data": data, "updated_at": utcnow()}
                update = {name: row[name] for name in (*values, "updated_at")}
                await (await session.connection()).execute(
                    insert(table).values(**row).on_conflict_do_update(index_elements=[table.c.key], set_=update)
                )
            await session.commit()

    async def _read(self, key: StorageKey) -> FsmRecord | None:
        async with self._sessions() as session:
            return (
                await session.exec(select(FsmRecord).where(FsmRecord.key == self._keys.build(key)))
            ).first()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._read(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._read(key)
        return dict(record.data) if record else {}

    async def close(self) -> None:
        """Nothing to close: sessions come from the application's engine."""
