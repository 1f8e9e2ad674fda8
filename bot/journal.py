"""The updates the poller holds: kept until handled, so ``getUpdates`` can confirm them at once.

Telegram confirms every update below the ``offset`` of the next ``getUpdates``. Without a journal
the poller keeps the offset at the oldest update still being handled (a killed process gets it
again) — and then every answer repeats all updates from there on: under load tens of kilobytes
per poll, built by the server, sent, and read by us, for one or two new updates (on the intake
bench 15 MB for 800 updates, about a quarter of the bot's CPU).

With a journal the poller writes the updates it has in hand (their JSON, as Telegram sent them
once read) before the next ``getUpdates``, which then confirms them; an update leaves the journal
once it was handled. Writes and removals made since the last poll go out together, in one round
trip (Redis: one ``MULTI``; SQL: one transaction), and only for updates still in hand by then —
one handled before the next poll is never written. A process started again handles what its
journal holds first (an update handled twice changes nothing: see ``bot.storage.UpdateFsm``).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from models.tables import PolledUpdate

REDIS_PREFIX = "huifang:journal"


class UpdateJournal(abc.ABC):
    """Where the poller keeps the raw JSON of the updates it holds, by ``update_id``."""

    @abc.abstractmethod
    async def load(self) -> list[tuple[int, str]]:
        """Every update kept, ``(update_id, json)`` in update order."""

    @abc.abstractmethod
    async def sync(self, add: Mapping[int, str], remove: Collection[int]) -> None:
        """Keep ``add`` and forget ``remove``, both or neither, in one round trip."""

    async def close(self) -> None:
        """Release connections (the journal's contents stay)."""


class SqlJournal(UpdateJournal):
    """The journal in the bot's database (table ``polled_update``)."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions
        self._table = PolledUpdate.__table__

    async def load(self) -> list[tuple[int, str]]:
        table = self._table
        async with self.sessions() as session:
            connection = await session.connection()
            rows = (await connection.execute(select(table.c.update_id, table.c.body).order_by(table.c.update_id))).all()
        return [(int(update_id), body) for update_id, body in rows]

    async def sync(self, add: Mapping[int, str], remove: Collection[int]) -> None:
        if not add and not remove:
            return
        table = self._table
        async with self.sessions() as session:
            connection = await session.connection()
            if remove:
                await connection.execute(delete(table).where(table.c.update_id.in_(list(remove))))
            if add:  # never kept already: the poller writes only updates newer than the journal's
                await connection.execute(insert(table), [{"update_id": k, "body": v} for k, v in add.items()])
            await session.commit()


class RedisJournal(UpdateJournal):
    """The journal in Redis (one hash per bot), beside the conversation state."""

    def __init__(self, redis_url: str, bot_id: int | str) -> None:
        from redis.asyncio import Redis  # only with REDIS_URL

        from bot.storage import redis_connection_kwargs

        self.redis = Redis.from_url(redis_url, **redis_connection_kwargs())
        self.key = f"{REDIS_PREFIX}:{bot_id}"

    async def load(self) -> list[tuple[int, str]]:
        kept = await self.redis.hgetall(self.key)
        return sorted((int(update_id), body.decode() if isinstance(body, bytes) else body)
                      for update_id, body in kept.items())

    async def sync(self, add: Mapping[int, str], remove: Collection[int]) -> None:
        if not add and not remove:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            if remove:
                pipe.hdel(self.key, *remove)
            if add:
                pipe.hset(self.key, mapping=dict(add))
            await pipe.execute()

    async def close(self) -> None:
        await self.redis.aclose()
