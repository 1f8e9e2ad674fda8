"""Conversation (FSM) state: in the SQL database (an intake in progress survives a restart) or in
Redis, read at most once and written at most once per update.

Inside an update every read and write of the conversation goes to a buffer (``UpdateFsm``, the
FSM middleware); the buffer is saved in one write when the handler returns, and dropped when it
raises or the process dies. With the state the id of the update that changed it is saved (the
last few per conversation): a redelivered update — Telegram retries a webhook that was not
acknowledged, polling gets an unconfirmed batch again — whose change was already saved is
skipped instead of being applied to the state it produced. Outside an update (tests, tools) the
storages read and write directly. A polling bot, the only process writing conversations, also
keeps them in memory (``ConversationCache``): reads come from there, only saves go to the store.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.types import TelegramObject, Update
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import upsert_insert
from models.tables import FsmRecord
from models.types import utcnow

APPLIED = "_applied"  # in the stored data: ids of the last updates whose change is saved
REMEMBERED = 8


@dataclass
class Conversation:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    applied: list[int] = field(default_factory=list)
    changed: bool = False

    @classmethod
    def stored(cls, state: str | None, data: Mapping[str, Any] | None) -> Conversation:
        data = dict(data or {})
        applied = data.pop(APPLIED, [])
        return cls(state=state, data=data, applied=list(applied) if isinstance(applied, list) else [])

    def to_store(self) -> dict[str, Any]:
        return {**self.data, APPLIED: self.applied} if self.applied else dict(self.data)


class ConversationCache:
    """The conversations this process read or saved last, when it is the only one writing them.

    A polling bot is: Telegram hands updates to one poller, and nothing else in the project writes
    conversations. Then an update's conversation is read from here (no round trip) and only its
    save goes to the store. Entries are kept as stored (state and JSON), so a handler changing its
    copy never changes the cache, and bounded (least recently used first out)."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._items: OrderedDict[StorageKey, tuple[str | None, str]] = OrderedDict()
        self._saving: dict[StorageKey, int] = {}  # saves in flight per conversation
        self._overlapped: set[StorageKey] = set()  # two saves at once: which landed last is unknown
        self.saves = 0  # a read that saw a save start meanwhile may be older than it: not kept

    def get(self, key: StorageKey) -> Conversation | None:
        stored = self._items.get(key)
        if stored is None:
            return None
        self._items.move_to_end(key)
        return Conversation.stored(stored[0], json.loads(stored[1]))

    def put(self, key: StorageKey, conversation: Conversation) -> None:
        self._items[key] = (conversation.state, json.dumps(conversation.to_store()))
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def save_started(self, key: StorageKey) -> None:
        """A save of ``key`` is under way: what is kept of it is no longer known to be stored."""
        self.saves += 1
        self._items.pop(key, None)
        in_flight = self._saving[key] = self._saving.get(key, 0) + 1
        if in_flight > 1:
            self._overlapped.add(key)

    def save_ended(self, key: StorageKey, saved: Conversation | None) -> None:
        """A save of ``key`` ended with ``saved`` stored (None: it failed); kept unless it overlapped."""
        left = self._saving[key] - 1
        if left:
            self._saving[key] = left
            return
        del self._saving[key]
        if key in self._overlapped:
            self._overlapped.discard(key)
        elif saved is not None:
            self.put(key, saved)

    def __len__(self) -> int:
        return len(self._items)


class ConversationStore(BaseStorage):
    """A storage that loads and saves a conversation whole (state and data together)."""

    cache: ConversationCache | None = None  # set when this process is the only one writing (polling)

    async def load(self, key: StorageKey) -> Conversation:
        raise NotImplementedError

    async def save(self, key: StorageKey, conversation: Conversation) -> None:
        raise NotImplementedError

    async def fetch(self, key: StorageKey) -> Conversation:
        """``load`` through the cache, when there is one."""
        cache = self.cache
        if cache is None:
            return await self.load(key)
        if (kept := cache.get(key)) is not None:
            return kept
        saves = cache.saves
        conversation = await self.load(key)
        if cache.saves == saves:
            cache.put(key, conversation)
        return conversation

    async def store(self, key: StorageKey, conversation: Conversation) -> None:
        """``save`` and keep what was saved; a failed save leaves nothing kept (unknown)."""
        cache = self.cache
        if cache is None:
            return await self.save(key, conversation)
        cache.save_started(key)
        saved = None
        try:
            await self.save(key, conversation)
            saved = conversation
        finally:
            cache.save_ended(key, saved)

    # aiogram's interface: through the update's buffer when there is one, else straight through.
    async def _conversation(self, key: StorageKey) -> Conversation:
        buffer = _buffer.get()
        if buffer is None:
            return await self.fetch(key)
        if key not in buffer.conversations:
            buffer.conversations[key] = await self.fetch(key)
        return buffer.conversations[key]

    async def _change(self, key: StorageKey, **values: Any) -> None:
        conversation = await self._conversation(key)
        for name, value in values.items():
            setattr(conversation, name, value)
        conversation.changed = True
        if _buffer.get() is None:
            await self.store(key, conversation)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._change(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._conversation(key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._change(key, data={k: v for k, v in dict(data).items() if k != APPLIED})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._conversation(key)).data)


class SqlStorage(ConversationStore):
    """The conversation in the project's SQL database (SQLite or PostgreSQL): one row per chat."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_destiny=True, with_bot_id=True)

    async def load(self, key: StorageKey) -> Conversation:
        async with self._sessions() as session:
            record = (await session.exec(select(FsmRecord).where(FsmRecord.key == self._keys.build(key)))).first()
        return Conversation.stored(record.state, record.data) if record else Conversation()

    async def save(self, key: StorageKey, conversation: Conversation) -> None:
        """One statement: an upsert, or a delete when nothing is left to remember."""
        record_key = self._keys.build(key)
        table = FsmRecord.__table__
        data = conversation.to_store()
        async with self._sessions() as session:
            connection = await session.connection()
            if conversation.state is None and not data:
                await connection.execute(delete(table).where(table.c.key == record_key))
            else:
                insert = upsert_insert(session)
                row = {"key": record_key, "state": conversation.state, "data": data, "updated_at": utcnow()}
                await connection.execute(insert(table).values(**row).on_conflict_do_update(
                    index_elements=[table.c.key], set_={k: v for k, v in row.items() if k != "key"}))
            await session.commit()

    async def close(self) -> None:
        """Nothing to close: sessions come from the application's engine."""


def redis_connection_kwargs() -> dict[str, Any]:
    """Connection options for the bot's Redis clients: the driver's name and version computed once.
    (redis-py ≥ 6 otherwise looks its own version up in the package metadata for every new
    connection — milliseconds each, while a burst of updates opens the pool's connections.)"""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # redis-py 5: nothing to save
        return {}
    global _DRIVER_INFO
    if _DRIVER_INFO is None:
        _DRIVER_INFO = DriverInfo()
    return {"driver_info": _DRIVER_INFO}


_DRIVER_INFO = None


# KEYS: the state key, the data key; ARGV: has state ("1"/"0"), state, has data, data (JSON).
_SAVE = """
if ARGV[1] == '1' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4]) else redis.call('DEL', KEYS[2]) end
return 1
"""


# KEYS: the chat's lock, state, data; ARGV: token, lock time (ms). Takes the lock (as redis-py's
# Lock does: SET NX PX with a token) and, when taken, reads the conversation in the same round trip.
_LOCK_AND_LOAD = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3])}
end
return {0}
"""

# KEYS: lock, state, data; ARGV: token, save ("1"/"0"), then as _SAVE. Saves the conversation (the
# handler returned) and releases the lock if it is still ours; 0 when it was not (it had expired).
_SAVE_AND_UNLOCK = """
if ARGV[2] == '1' then
  if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4]) else redis.call('DEL', KEYS[2]) end
  if ARGV[5] == '1' then redis.call('SET', KEYS[3], ARGV[6]) else redis.call('DEL', KEYS[3]) end
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class RedisConversationStorage(ConversationStore):
    """The conversation in Redis, with aiogram's RedisStorage keys (``…:state``, ``…:data``).

    Inside an update the chat's event-isolation lock and the conversation travel together: one
    script takes the lock and reads the conversation, one saves it and releases the lock (two
    round trips per update instead of four). The lock is the one aiogram's ``RedisEventIsolation``
    takes (same key, a token as value, the same expiry), so both exclude each other."""

    lock_ms = 60_000  # aiogram's RedisEventIsolation default; create_isolation() copies the isolation's own
    retry_seconds = 0.1  # redis-py's Lock polls as often while another process holds the chat

    def __init__(self, url: str) -> None:
        from aiogram.fsm.storage.redis import RedisStorage

        self._redis_storage = RedisStorage.from_url(url, connection_kwargs=redis_connection_kwargs())
        self.redis = self._redis_storage.redis
        self.key_builder = self._redis_storage.key_builder
        self._save = self.redis.register_script(_SAVE)
        self._lock_and_load = self.redis.register_script(_LOCK_AND_LOAD)
        self._save_and_unlock = self.redis.register_script(_SAVE_AND_UNLOCK)

    def _keys(self, key: StorageKey) -> list[str]:
        return [self.key_builder.build(key, "lock"), self.key_builder.build(key, "state"),
                self.key_builder.build(key, "data")]

    @staticmethod
    def _conversation_of(state: Any, data: Any) -> Conversation:
        if isinstance(state, bytes):
            state = state.decode("utf-8")
        return Conversation.stored(state, json.loads(data) if data else None)

    @staticmethod
    def _save_args(conversation: Conversation) -> list[str]:
        data = conversation.to_store()
        return ["0" if conversation.state is None else "1", conversation.state or "",
                "1" if data else "0", json.dumps(data) if data else ""]

    async def lock_and_load(self, key: StorageKey, token: str) -> Conversation:
        """Take the chat's lock (waiting while someone else holds it) and read its conversation."""
        while True:
            reply = await self._lock_and_load(keys=self._keys(key), args=[token, self.lock_ms])
            if int(reply[0]) == 1:
                return self._conversation_of(reply[1], reply[2])
            await asyncio.sleep(self.retry_seconds)

    async def save_and_unlock(self, key: StorageKey, token: str, conversation: Conversation | None) -> None:
        """Save the conversation (unless None) and release the lock, in one round trip. Raises
        ``LockNotOwnedError`` as redis-py's Lock does when the lock had expired meanwhile."""
        args = [token, "1", *self._save_args(conversation)] if conversation is not None else [token, "0"]
        if not int(await self._save_and_unlock(keys=self._keys(key), args=args)):
            from redis.exceptions import LockNotOwnedError

            raise LockNotOwnedError("the chat's lock expired while its update was handled")

    def create_isolation(self):
        """aiogram's isolation on the same keys; UpdateFsm takes its lock through ``lock_and_load``."""
        self.isolation = self._redis_storage.create_isolation()
        self.lock_ms = int(float(self.isolation.lock_kwargs.get("timeout", 60)) * 1000)
        return self.isolation

    async def load(self, key: StorageKey) -> Conversation:
        state, data = await self.redis.mget(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))
        return self._conversation_of(state, data)

    async def save(self, key: StorageKey, conversation: Conversation) -> None:
        """Both keys in one script (one round trip, atomic): a crash never leaves the state without its data."""
        await self._save(keys=[self.key_builder.build(key, "state"), self.key_builder.build(key, "data")],
                         args=self._save_args(conversation))

    async def close(self) -> None:
        await self._redis_storage.close()


@dataclass
class UpdateBuffer:
    conversations: dict[StorageKey, Conversation] = field(default_factory=dict)


_buffer: ContextVar[UpdateBuffer | None] = ContextVar("huifang_fsm_buffer", default=None)


class UpdateFsm(FSMContextMiddleware):
    """aiogram's FSM middleware with the conversation buffered for the update and saved once."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        storage = self.storage
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = storage
        if context is None or not isinstance(storage, ConversationStore):
            return await super().__call__(handler, event, data)
        update_id = event.update_id if isinstance(event, Update) else None
        if (isinstance(storage, RedisConversationStorage) and storage.cache is None
                and self.events_isolation is getattr(storage, "isolation", None)):
            return await self._with_redis(storage, context, update_id, handler, event, data)
        async with self.events_isolation.lock(key=context.key):
            buffer = UpdateBuffer()
            token = _buffer.set(buffer)
            try:
                own = await storage._conversation(context.key)
                if update_id is not None and update_id in own.applied:
                    return UNHANDLED  # redelivered: its change is already saved
                data.update({"state": context, "raw_state": own.state})
                result = await handler(event, data)
            finally:
                _buffer.reset(token)
            for key, conversation in buffer.conversations.items():
                if not conversation.changed:
                    continue
                if key == context.key and update_id is not None:
                    conversation.applied = [*conversation.applied, update_id][-REMEMBERED:]
                await storage.store(key, conversation)
            return result

    async def _with_redis(self, storage: RedisConversationStorage, context, update_id: int | None,
                          handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """As above, with the lock taken and the conversation read in one round trip, and the
        conversation saved and the lock released in one."""
        token = uuid.uuid4().hex
        own = await storage.lock_and_load(context.key, token)
        saved: Conversation | None = None
        try:
            if update_id is not None and update_id in own.applied:
                return UNHANDLED  # redelivered: its change is already saved
            buffer = UpdateBuffer(conversations={context.key: own})
            token_var = _buffer.set(buffer)
            try:
                data.update({"state": context, "raw_state": own.state})
                result = await handler(event, data)
            finally:
                _buffer.reset(token_var)
            for key, conversation in buffer.conversations.items():
                if not conversation.changed:
                    continue
                if key == context.key:
                    if update_id is not None:
                        conversation.applied = [*conversation.applied, update_id][-REMEMBERED:]
                    saved = conversation
                else:
                    await storage.save(key, conversation)
            return result
        finally:
            await storage.save_and_unlock(context.key, token, saved)
