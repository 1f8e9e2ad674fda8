"""Conversation state in the database (both backends) and in Redis survives a new storage object."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.storage import SqlStorage
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


@pytest.mark.redis
class TestRedisStorage:
    async def test_state_survives_a_new_instance(self, redis_url):
        from aiogram.fsm.storage.redis import RedisStorage

        first = RedisStorage.from_url(redis_url)
        await first.set_state(KEY, Intake.location)
        await first.set_data(KEY, {"draft": "r1"})
        await first.close()
        second = RedisStorage.from_url(redis_url)
        try:
            assert await second.get_state(KEY) == "Intake:location"
            assert await second.get_data(KEY) == {"draft": "r1"}
        finally:
            await second.close()
