"""Stopping the delivery worker lets a pass in progress end instead of cancelling it inside a query
(a connection cancelled mid-query is reset mid-cancel, which SQLAlchemy logs as an error)."""

from __future__ import annotations

import asyncio

from bot.delivery import DeliveryWorker
from bot.settings import Settings
from services.satisfaction import CallbackPolicy

POLICY = CallbackPolicy.from_settings(Settings(_env_file=None))


class TestStop:
    async def test_a_pass_in_progress_ends_before_the_worker_stops(self):
        worker = DeliveryWorker(None, None, None, policy=POLICY)
        entered, release, finished = asyncio.Event(), asyncio.Event(), []

        async def slow_drain() -> int:
            entered.set()
            await release.wait()  # a claim query in flight
            finished.append(True)
            return 0

        worker.drain = slow_drain
        worker.start()
        await entered.wait()
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # waits for the pass …
        release.set()
        await stopping
        assert finished == [True]  # … which ended normally, not cancelled

    async def test_an_idle_worker_stops_at_once(self):
        worker = DeliveryWorker(None, None, None, policy=POLICY, poll=3600)
        passes = []

        async def drain() -> int:
            passes.append(1)
            return 0

        worker.drain = drain
        worker.start()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(worker.stop(), 2)
        assert passes == [1]
