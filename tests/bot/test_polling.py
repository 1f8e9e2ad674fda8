"""The tolerant getUpdates session: one unreadable update is skipped, not the whole batch."""

from __future__ import annotations

import json

from aiogram import Bot

from bot.polling import sanitise_updates


def test_a_bad_update_becomes_an_empty_one_and_the_rest_stay():
    bot = Bot("123456:TEST-token")
    good = {"update_id": 2, "message": {"message_id": 5, "date": 1796220000, "text": "hi",
                                        "chat": {"id": 7, "type": "private"}, "from": {"id": 7, "is_bot": False,
                                                                                   "first_name": "A"}}}
    content = json.dumps({"ok": True, "result": [{"update_id": 1, "message": {"message_id": "x"}}, good,
                                                 {"no_id": True}]})
    cleaned = json.loads(sanitise_updates(content, bot))
    assert cleaned["result"] == [{"update_id": 1}, good]


def test_good_batches_pass_unchanged():
    content = json.dumps({"ok": True, "result": []})
    assert sanitise_updates(content, Bot("123456:TEST-token")) == content


def test_the_session_validates_a_good_batch_once_and_still_skips_a_bad_update(monkeypatch):
    from aiogram.methods import GetUpdates
    from aiogram.types import Update

    from bot import polling
    from bot.polling import TolerantSession

    bot = Bot("123456:TEST-token")
    session = TolerantSession()
    good = {"update_id": 2, "message": {"message_id": 5, "date": 1796220000, "text": "hi",
                                        "chat": {"id": 7, "type": "private"}, "from": {"id": 7, "is_bot": False,
                                                                                   "first_name": "A"}}}
    sanitised = []
    monkeypatch.setattr(polling, "sanitise_updates",
                        lambda content, b: sanitised.append(1) or sanitise_updates(content, b))
    calls = []
    validate = Update.model_validate
    monkeypatch.setattr(Update, "model_validate", classmethod(lambda cls, *a, **k: calls.append(1) or validate(*a, **k)))

    response = session.check_response(bot, GetUpdates(), 200, json.dumps({"ok": True, "result": [good]}))
    assert [u.update_id for u in response.result] == [2] and not sanitised and not calls

    bad = json.dumps({"ok": True, "result": [{"update_id": 1, "message": {"message_id": "x"}}, good]})
    response = session.check_response(bot, GetUpdates(), 200, bad)
    assert [u.update_id for u in response.result] == [1, 2] and sanitised == [1]


def _message_update(update_id: int, chat: int) -> "Update":
    from aiogram.types import Update

    return Update.model_validate({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1796220000, "text": f"m{update_id}", "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "A"}}})


class _FakeBot:
    """getUpdates from a script: each call records its offset and timeout, answers the next batch
    (the server repeats every update from the offset on, as Telegram does)."""

    def __init__(self, arrivals):
        import types

        self.session = types.SimpleNamespace(timeout=60)
        self.arrivals = list(arrivals)  # batches that arrive, one per call
        self.queue = []
        self.calls = []

    async def get_updates(self, *, offset, timeout, allowed_updates, request_timeout):
        import asyncio

        self.calls.append((offset, timeout))
        if self.arrivals:
            self.queue += self.arrivals.pop(0)
        if offset is not None:
            self.queue = [u for u in self.queue if u.update_id >= offset]
        if not self.queue and timeout:
            await asyncio.sleep(3600)  # a long poll with nothing to say (cut short by stop())
        return list(self.queue)


class _FakeDispatcher:
    def __init__(self, gates):
        self.gates = gates  # update_id → event the handler waits for
        self.started, self.finished = [], []

    def resolve_used_update_types(self):
        return ["message"]

    async def feed_update(self, bot, update):
        self.started.append(update.update_id)
        if update.update_id in self.gates:
            await self.gates[update.update_id].wait()
        self.finished.append(update.update_id)


async def test_the_poller_fetches_on_while_an_update_is_handled_and_confirms_only_below_it():
    import asyncio

    from bot.polling import BatchPoller

    slow = asyncio.Event()
    bot = _FakeBot([[_message_update(1, 10)], [_message_update(2, 20), _message_update(3, 10)]])
    dispatcher = _FakeDispatcher({1: slow})
    poller = BatchPoller(dispatcher, bot, timeout=30)
    task = asyncio.create_task(poller.run())
    for _ in range(200):
        await asyncio.sleep(0)
        if 2 in dispatcher.finished:
            break
    # update 2 (another chat) was fetched and handled while 1 is still in hand; 3 (1's chat) waits for 1
    assert dispatcher.finished == [2] and 3 not in dispatcher.started
    assert all(offset in (None, 1) for offset, _ in bot.calls)  # nothing confirmed past update 1
    assert all(timeout == 0 for _, timeout in bot.calls[1:])  # no long poll while updates are in hand
    calls = len(bot.calls)
    await asyncio.sleep(0.05)
    assert len(bot.calls) == calls  # waiting for an update to finish, not asking again and again
    slow.set()
    for _ in range(200):
        await asyncio.sleep(0)
        if bot.calls[-1][0] == 4:
            break
    assert dispatcher.finished == [2, 1, 3]
    assert bot.calls[-1] == (4, 30)  # everything handled: confirmed, long polling again
    poller.stop()
    await task


async def _until(condition, tries: int = 500) -> None:
    import asyncio

    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


async def _journal_emptied(journal) -> None:
    """Wait (up to a second) for the journal to be empty, and say so."""
    import asyncio

    for _ in range(100):
        if not await journal.load():
            break
        await asyncio.sleep(0.01)
    assert await journal.load() == []


class TestJournal:
    """With a journal the updates in hand are confirmed at once and kept until handled."""

    async def test_an_update_in_hand_is_kept_and_confirmed_and_leaves_the_journal_once_handled(self, sqlite_url):
        import asyncio

        from aiogram.types import Update

        from bot.journal import SqlJournal
        from bot.polling import BatchPoller
        from models.db import create_engine, session_factory

        engine = create_engine(sqlite_url)
        journal = SqlJournal(session_factory(engine))
        slow = asyncio.Event()
        first = _message_update(1, 10)
        bot = _FakeBot([[first], [_message_update(2, 20)]])
        dispatcher = _FakeDispatcher({1: slow})
        poller = BatchPoller(dispatcher, bot, timeout=30, journal=journal, journal_flush=0.01)
        task = asyncio.create_task(poller.run())
        try:
            await _until(lambda: 2 in dispatcher.finished and len(bot.calls) >= 3)
            # 1 is still being handled, yet every poll after it confirmed it: no answer repeats it
            assert bot.calls[0] == (None, 30)
            assert all(offset > 1 and timeout == 30 for offset, timeout in bot.calls[1:])
            await asyncio.sleep(0.05)  # 2's removal (if it was written at all) is flushed
            kept = await journal.load()
            assert [update_id for update_id, _ in kept] == [1]
            assert Update.model_validate_json(kept[0][1]) == first  # as Telegram sent it
            slow.set()
            await _until(lambda: 1 in dispatcher.finished)
            await _journal_emptied(journal)  # handled: out of the journal shortly after, with no poll coming
        finally:
            slow.set()
            poller.stop()
            await task
            await engine.dispose()

    async def test_a_restarted_poller_handles_what_the_journal_kept_once_and_first(self, sqlite_url):
        import asyncio

        from bot.journal import SqlJournal
        from bot.polling import BatchPoller
        from models.db import create_engine, session_factory

        engine = create_engine(sqlite_url)
        journal = SqlJournal(session_factory(engine))
        kept = _message_update(5, 10)
        await journal.sync({5: kept.model_dump_json(by_alias=True, exclude_none=True)}, ())
        # the killed process had confirmed 5 … or not yet: the server may send it again
        bot = _FakeBot([[kept, _message_update(6, 10)]])
        dispatcher = _FakeDispatcher({})
        poller = BatchPoller(dispatcher, bot, timeout=30, journal=journal, journal_flush=0.01)
        task = asyncio.create_task(poller.run())
        try:
            await _until(lambda: 6 in dispatcher.finished)
            assert dispatcher.started == [5, 6]  # the kept one first, and once
            assert bot.calls[0] == (6, 30)
            await _journal_emptied(journal)
        finally:
            poller.stop()
            await task
            await engine.dispose()

    async def test_while_the_journal_cannot_be_written_the_offset_waits_for_the_oldest_in_hand(self, tmp_path):
        import asyncio

        from bot.journal import SqlJournal
        from bot.polling import BatchPoller
        from models.db import create_engine, session_factory

        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'huifang.db'}")  # cannot be opened
        slow = asyncio.Event()
        bot = _FakeBot([[_message_update(1, 10)], [_message_update(2, 20)]])
        dispatcher = _FakeDispatcher({1: slow})
        poller = BatchPoller(dispatcher, bot, timeout=30, journal=SqlJournal(session_factory(engine)),
                             journal_flush=0.01)
        task = asyncio.create_task(poller.run())
        try:
            await _until(lambda: 2 in dispatcher.finished)
            assert all(offset in (None, 1) for offset, _ in bot.calls)  # nothing confirmed past update 1
            slow.set()
            await _until(lambda: bot.calls[-1][0] == 3)
            assert dispatcher.finished == [2, 1]
        finally:
            slow.set()
            poller.stop()
            await task
            await engine.dispose()


def test_repeated_updates_are_dropped_by_a_scan_with_the_same_result_as_parsing():
    from bot import polling

    def parsed(content, seen):
        return [u for u in json.loads(content)["result"] if u["update_id"] > seen]

    for separators in (None, (",", ":")):
        for count in range(5):
            # message text that looks like the keys the scan looks for
            updates = [{"update_id": 10 + i, "message": {"text": 'a"update_id": 3 {"update_id":1,' + "]}" * i,
                                                         "chat": {"id": i}}} for i in range(count)]
            content = json.dumps({"ok": True, "result": updates}, separators=separators, ensure_ascii=False)
            for seen in range(8, 16):
                assert polling._drop_by_scan(content, seen) is not None
                assert json.loads(polling.drop_updates(content, seen))["result"] == parsed(content, seen)


def test_answers_not_laid_out_as_telegrams_are_parsed():
    from bot import polling

    for result in ([{"message": {}, "update_id": 3}, {"update_id": 4}], [{"update_id": 4}, {"update_id": 2}]):
        content = json.dumps({"ok": True, "result": result})
        assert polling._drop_by_scan(content, 3) is None
        assert json.loads(polling.drop_updates(content, 3))["result"] == [{"update_id": 4}]
    assert polling._drop_by_scan(json.dumps({"result": [{"update_id": 4}], "ok": True}), 3) is None
