"""Conversation state in the database (both backends) and in Redis survives a new storage object;
inside an update it is read once, written once, dropped on an error, and a redelivered update
whose change was saved is skipped."""

from __future__ import annotations

import json

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import Message, Update

from bot.storage import RedisConversationStorage, SqlStorage, UpdateFsm
from handlers.states import Intake

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


class TestSqlStorage:
    async def test_state_and_data_survive_a_new_instance(self, sessions):
        first = SqlStorage(sessions)
        await first.set_state(KEY, Intake.location)
        await first.update_data(KEY, {"draft": "ab12", "description": "电梯坏了"})
        await first.update_data(KEY, {"photos": ["p1"]})
        await first.close()

        second = SqlStorage(sessions)
        assert await second.get_state(KEY) == "Intake:location"
        assert await second.get_data(KEY) == {"draft": "ab12", "description": "电梯坏了", "photos": ["p1"]}

    async def test_keys_are_separate(self, sessions):
        storage = SqlStorage(sessions)
        other = StorageKey(bot_id=1, chat_id=43, user_id=43)
        await storage.set_state(KEY, Intake.contact)
        assert await storage.get_state(other) is None
        assert await storage.get_data(other) == {}

    async def test_clear_removes_the_record(self, sessions):
        from sqlmodel import select

        from models.tables import FsmRecord

        storage = SqlStorage(sessions)
        await storage.set_state(KEY, Intake.confirm)
        await storage.set_data(KEY, {"draft": "x"})
        await storage.set_state(KEY, None)
        await storage.set_data(KEY, {})
        assert await storage.get_state(KEY) is None
        async with sessions() as session:
            assert (await session.exec(select(FsmRecord))).all() == []


def count_commands(storage: RedisConversationStorage) -> list[str]:
    """The names of the Redis commands the storage sends from now on (one per round trip)."""
    calls: list[str] = []
    execute = storage.redis.execute_command

    async def counted(*args, **kwargs):
        calls.append(args[0])
        return await execute(*args, **kwargs)

    storage.redis.execute_command = counted
    return calls


@pytest.mark.redis
class TestRedisStorage:
    async def test_state_survives_a_new_instance(self, redis_url):
        first = RedisConversationStorage(redis_url)
        await first.set_state(KEY, Intake.location)
        await first.set_data(KEY, {"draft": "r1"})
        await first.close()
        second = RedisConversationStorage(redis_url)
        try:
            assert await second.get_state(KEY) == "Intake:location"
            assert await second.get_data(KEY) == {"draft": "r1"}
            await second.set_state(KEY, None)
            await second.set_data(KEY, {})
            assert await second.redis.exists(second.key_builder.build(KEY, "state"),
                                             second.key_builder.build(KEY, "data")) == 0
        finally:
            await second.close()

    async def test_a_save_is_one_round_trip_in_every_combination(self, redis_url):
        from bot.storage import Conversation

        storage = RedisConversationStorage(redis_url)
        state_key, data_key = storage.key_builder.build(KEY, "state"), storage.key_builder.build(KEY, "data")
        try:
            await storage.save(KEY, Conversation(state="Intake:location", data={"draft": "w"}))  # loads the script
            execute = storage.redis.execute_command  # uncounted, for the checks
            calls = count_commands(storage)
            for state, data in (("Intake:contact", {}), (None, {"draft": "x"}), ("Intake:confirm", {"draft": "y"}),
                                (None, {})):
                calls.clear()
                await storage.save(KEY, Conversation(state=state, data=data))
                assert calls == ["EVALSHA"]
                assert await execute("GET", state_key) == (state.encode() if state else None)
                assert await execute("GET", data_key) == (json.dumps(data).encode() if data else None)
        finally:
            await storage.close()

    async def test_readable_by_aiogram_redis_storage(self, redis_url):
        """Same keys and encoding as aiogram's RedisStorage: a deployment switching keeps its conversations."""
        from aiogram.fsm.storage.redis import RedisStorage

        ours = RedisConversationStorage(redis_url)
        await ours.set_state(KEY, Intake.contact)
        await ours.set_data(KEY, {"draft": "r2"})
        theirs = RedisStorage.from_url(redis_url)
        try:
            assert await theirs.get_state(KEY) == "Intake:contact"
            assert await theirs.get_data(KEY) == {"draft": "r2"}
        finally:
            await theirs.close()
            await ours.close()


class CountingStorage(SqlStorage):
    """SqlStorage that counts its loads and saves."""

    def __init__(self, sessions) -> None:
        super().__init__(sessions)
        self.loads = self.saves = 0

    async def load(self, key):
        self.loads += 1
        return await super().load(key)

    async def save(self, key, conversation):
        self.saves += 1
        await super().save(key, conversation)


def message_update(update_id: int, text: str) -> Update:
    return Update.model_validate({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "A"}, "text": text}})


def stepping_dispatcher(storage, isolation=None) -> tuple[Dispatcher, list[str]]:
    """UpdateFsm (with ``isolation``, else in-process isolation as a polling bot has) around a small
    router of three steps, and a handler that fails."""
    isolation = isolation or SimpleEventIsolation()
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, disable_fsm=True)
    dispatcher.fsm = UpdateFsm(storage=storage, events_isolation=isolation)
    dispatcher.update.outer_middleware(dispatcher.fsm)
    seen: list[str] = []

    @dispatcher.message(F.text == "boom")
    async def boom(message: Message, state: FSMContext) -> None:
        await state.set_state(Intake.confirm)
        raise RuntimeError("handler failed")

    @dispatcher.message()
    async def step(message: Message, state: FSMContext) -> None:
        seen.append(f"{await state.get_state()}:{message.text}")
        data = await state.get_data()
        await state.update_data(texts=[*data.get("texts", []), message.text])
        await state.set_state(Intake.location if await state.get_state() is None else Intake.contact)

    return dispatcher, seen


class TestOneReadOneWritePerUpdate:
    """The dispatcher's FSM middleware (UpdateFsm) around a small router of three steps."""

    @pytest.fixture
    def setup(self, sessions):
        storage = CountingStorage(sessions)
        dispatcher, seen = stepping_dispatcher(storage)
        return dispatcher, Bot("42:TEST"), storage, seen

    async def test_one_load_and_one_save(self, setup):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        assert (storage.loads, storage.saves) == (1, 1)
        await dispatcher.feed_update(bot, message_update(2, "3栋"))
        assert (storage.loads, storage.saves) == (2, 2)
        assert seen == ["None:电梯坏了", "Intake:location:3栋"]
        assert await storage.get_data(KEY_42) == {"texts": ["电梯坏了", "3栋"]}

    async def test_redelivered_update_is_skipped(self, setup):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        # The process died after saving but before acknowledging: the same update comes again.
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        assert seen == ["None:电梯坏了"] and await storage.get_state(KEY_42) == "Intake:location"
        await dispatcher.feed_update(bot, message_update(8, "3栋"))
        assert seen == ["None:电梯坏了", "Intake:location:3栋"]

    async def test_nothing_saved_when_the_handler_fails(self, setup, caplog):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        with pytest.raises(RuntimeError):
            await dispatcher.feed_update(bot, message_update(2, "boom"))
        assert storage.saves == 1 and await storage.get_state(KEY_42) == "Intake:location"
        # Retried (say after a restart), the failed update is not taken for applied.
        await dispatcher.feed_update(bot, message_update(3, "3栋"))
        assert await storage.get_state(KEY_42) == "Intake:contact"


KEY_42 = StorageKey(bot_id=42, chat_id=42, user_id=42)


@pytest.mark.redis
class TestRedisLockAndConversationTogether:
    """With Redis, the chat's lock and its conversation travel in one round trip each way."""

    @pytest.fixture
    async def setup(self, redis_url):
        storage = RedisConversationStorage(redis_url)
        await storage.redis.flushdb()
        dispatcher, seen = stepping_dispatcher(storage, storage.create_isolation())
        calls = count_commands(storage)
        yield dispatcher, Bot("42:TEST"), storage, seen, calls
        await storage.close()

    async def test_two_round_trips_per_update_and_the_lock_released(self, setup):
        dispatcher, bot, storage, seen, calls = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        calls.clear()
        await dispatcher.feed_update(bot, message_update(2, "3栋"))
        assert calls == ["EVALSHA", "EVALSHA"]
        assert seen == ["None:电梯坏了", "Intake:location:3栋"]
        assert await storage.get_state(KEY_42) == "Intake:contact"
        assert await storage.get_data(KEY_42) == {"texts": ["电梯坏了", "3栋"]}
        assert not await storage.redis.exists(storage.key_builder.build(KEY_42, "lock"))

    async def test_redelivered_skipped_and_a_failure_saves_nothing(self, setup):
        dispatcher, bot, storage, seen, _calls = setup
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        assert seen == ["None:电梯坏了"]
        with pytest.raises(RuntimeError):
            await dispatcher.feed_update(bot, message_update(8, "boom"))
        assert await storage.get_state(KEY_42) == "Intake:location"
        assert not await storage.redis.exists(storage.key_builder.build(KEY_42, "lock"))

    async def test_waits_while_aiogram_isolation_holds_the_chat(self, setup):
        import asyncio

        dispatcher, bot, storage, seen, _calls = setup
        storage.retry_seconds = 0.01
        release = asyncio.Event()

        async def hold():
            async with storage.isolation.lock(KEY_42):  # e.g. another process on the same chat
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        update = asyncio.create_task(dispatcher.feed_update(bot, message_update(1, "电梯坏了")))
        await asyncio.sleep(0.1)
        assert seen == [] and not update.done()
        release.set()
        await holder
        await asyncio.wait_for(update, 5)
        assert seen == ["None:电梯坏了"]


class TestPollingKeepsConversations:
    """A polling bot (the only process writing conversations) reads them from memory and only saves."""

    @pytest.fixture
    def setup(self, sessions):
        from bot.storage import ConversationCache

        storage = CountingStorage(sessions)
        storage.cache = ConversationCache()
        dispatcher, seen = stepping_dispatcher(storage)
        return dispatcher, Bot("42:TEST"), storage, seen

    async def test_read_once_then_only_saved(self, setup, sessions):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        await dispatcher.feed_update(bot, message_update(2, "3栋"))
        assert (storage.loads, storage.saves) == (1, 2)
        assert seen == ["None:电梯坏了", "Intake:location:3栋"]
        restarted = SqlStorage(sessions)  # what a new process reads: the store has every save
        assert await restarted.get_state(KEY_42) == "Intake:contact"
        assert await restarted.get_data(KEY_42) == {"texts": ["电梯坏了", "3栋"]}

    async def test_a_failed_handler_changes_nothing_kept(self, setup):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        with pytest.raises(RuntimeError):
            await dispatcher.feed_update(bot, message_update(2, "boom"))
        await dispatcher.feed_update(bot, message_update(3, "3栋"))
        assert seen == ["None:电梯坏了", "Intake:location:3栋"] and storage.loads == 1

    async def test_a_failed_save_is_read_again_from_the_store(self, setup):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(1, "电梯坏了"))
        save = storage.save

        async def failing(key, conversation):
            raise ConnectionError("database gone")

        storage.save = failing
        with pytest.raises(ConnectionError):
            await dispatcher.feed_update(bot, message_update(2, "3栋"))
        storage.save = save
        await dispatcher.feed_update(bot, message_update(3, "3栋"))
        assert storage.loads == 2  # not the unsaved copy: read from the store again
        assert seen[-1] == "Intake:location:3栋" and await storage.get_state(KEY_42) == "Intake:contact"

    async def test_redelivered_update_is_skipped(self, setup):
        dispatcher, bot, storage, seen = setup
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        await dispatcher.feed_update(bot, message_update(7, "电梯坏了"))
        assert seen == ["None:电梯坏了"] and storage.saves == 1

    async def test_two_saves_at_once_keep_nothing(self, sessions):
        import asyncio

        from bot.storage import Conversation, ConversationCache

        storage = CountingStorage(sessions)
        storage.cache = ConversationCache()
        first_in, release = asyncio.Event(), asyncio.Event()
        save = storage.save

        async def slow_first(key, conversation):
            if conversation.state == "first":
                first_in.set()
                await release.wait()
            await save(key, conversation)

        storage.save = slow_first
        first = asyncio.create_task(storage.store(KEY_42, Conversation(state="first")))
        await first_in.wait()
        await storage.store(KEY_42, Conversation(state="second"))
        release.set()
        await first
        assert len(storage.cache) == 0  # which write landed last is the store's to say
        assert (await storage.fetch(KEY_42)).state == "first" and storage.loads == 1

    async def test_the_cache_is_bounded(self):
        from bot.storage import Conversation, ConversationCache

        cache = ConversationCache(size=2)
        for chat in (1, 2, 3):
            cache.put(StorageKey(bot_id=1, chat_id=chat, user_id=chat), Conversation(state=f"s{chat}"))
        assert len(cache) == 2 and cache.get(StorageKey(bot_id=1, chat_id=1, user_id=1)) is None
        kept = cache.get(StorageKey(bot_id=1, chat_id=3, user_id=3))
        kept.data["x"] = 1  # a handler's copy: the kept one does not change
        assert cache.get(StorageKey(bot_id=1, chat_id=3, user_id=3)).data == {}


@pytest.mark.redis
class TestPollingWithRedis:
    async def test_one_round_trip_per_update_and_no_lock(self, redis_url):
        from bot.storage import ConversationCache

        storage = RedisConversationStorage(redis_url)
        storage.cache = ConversationCache()
        dispatcher, seen = stepping_dispatcher(storage)
        calls = count_commands(storage)
        try:
            await dispatcher.feed_update(Bot("42:TEST"), message_update(1, "电梯坏了"))
            calls.clear()
            await dispatcher.feed_update(Bot("42:TEST"), message_update(2, "3栋"))
            assert calls == ["EVALSHA"]  # the save
            assert not await storage.redis.exists(storage.key_builder.build(KEY_42, "lock"))
            fresh = RedisConversationStorage(redis_url)
            assert await fresh.get_state(KEY_42) == "Intake:contact"
            await fresh.close()
        finally:
            await storage.close()
