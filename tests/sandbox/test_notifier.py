"""The sandbox's Notifier: long-polls wake on their own chat's changes, not on everyone's."""

from __future__ import annotations

import asyncio

from sandbox.state import Notifier


class TestKeyedWaiters:
    async def test_a_change_in_another_chat_does_not_recheck(self):
        notifier, checks = Notifier(), {"a": 0, "b": 0}
        done = {"a": False, "b": False}

        def predicate(chat):
            def check():
                checks[chat] += 1
                return done[chat]
            return check

        waiter_a = asyncio.create_task(notifier.wait_until(predicate("a"), 5, key="a"))
        waiter_b = asyncio.create_task(notifier.wait_until(predicate("b"), 5, key="b"))
        await asyncio.sleep(0)
        for _ in range(10):
            notifier.notify("a")
            await asyncio.sleep(0)
        assert checks["b"] == 1  # its first check only
        done["b"] = True
        notifier.notify("b")
        assert await asyncio.wait_for(waiter_b, 1) is True
        done["a"] = True
        notifier.notify("a")
        assert await asyncio.wait_for(waiter_a, 1) is True
        assert checks["a"] > 2  # rechecked on its own chat's changes

    async def test_unkeyed_waiters_wake_on_every_change(self):
        notifier, ready = Notifier(), []
        waiter = asyncio.create_task(notifier.wait_until(lambda: bool(ready), 5))
        await asyncio.sleep(0)
        ready.append(1)
        notifier.notify("some chat")
        assert await asyncio.wait_for(waiter, 1) is True

    async def test_an_unkeyed_notify_and_close_wake_keyed_waiters(self):
        notifier, ready = Notifier(), []
        waiter = asyncio.create_task(notifier.wait_until(lambda: bool(ready), 5, key=7))
        await asyncio.sleep(0)
        ready.append(1)
        notifier.notify()
        assert await asyncio.wait_for(waiter, 1) is True
        closing = asyncio.create_task(notifier.wait_until(lambda: False, 5, key=8))
        await asyncio.sleep(0)
        notifier.close()
        assert await asyncio.wait_for(closing, 1) is False

    async def test_timeout_returns_the_last_value(self):
        assert await Notifier().wait_until(lambda: 0, 0.01, key=1) == 0
