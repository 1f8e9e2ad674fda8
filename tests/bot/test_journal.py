"""The poller's journal of updates in hand: in the database (both backends) and in Redis, what is
written is read back in update order by a new journal object, and what is removed is gone."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from bot.journal import RedisJournal, SqlJournal


async def _round_trip(first, second) -> None:
    await first.sync({7: '{"update_id":7}', 3: '{"update_id":3,"message":{"text":"电梯坏了"}}'}, ())
    await first.sync({12: '{"update_id":12}'}, {7})
    await first.close()
    assert await second.load() == [(3, '{"update_id":3,"message":{"text":"电梯坏了"}}'), (12, '{"update_id":12}')]
    await second.sync({}, {3, 12})
    assert await second.load() == []
    await second.sync({}, ())  # nothing to do: no round trip, no error
    await second.close()


class TestSqlJournal:
    async def test_kept_updates_survive_a_new_journal_in_update_order(self, sessions):
        await _round_trip(SqlJournal(sessions), SqlJournal(sessions))

    async def test_a_failed_write_keeps_nothing_of_it(self, sessions):
        journal = SqlJournal(sessions)
        await journal.sync({1: '{"update_id":1}', 3: '{"update_id":3}'}, ())
        with pytest.raises(IntegrityError):  # 3 is kept already: the whole write is refused, removal included
            await journal.sync({2: '{"update_id":2}', 3: '{"update_id":3}'}, {1})
        assert await journal.load() == [(1, '{"update_id":1}'), (3, '{"update_id":3}')]


class TestRedisJournal:
    async def test_kept_updates_survive_a_new_journal_in_update_order(self, redis_url):
        await _round_trip(RedisJournal(redis_url, 42), RedisJournal(redis_url, 42))

    async def test_each_bot_has_its_own(self, redis_url):
        mine, other = RedisJournal(redis_url, 1), RedisJournal(redis_url, 2)
        try:
            await mine.sync({5: '{"update_id":5}'}, ())
            assert await other.load() == []
            assert await mine.load() == [(5, '{"update_id":5}')]
        finally:
            await mine.close()
            await other.close()
