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
