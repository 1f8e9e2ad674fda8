"""The delivery worker: stopping lets a pass in progress end instead of cancelling it inside a query
(a connection cancelled mid-query is reset mid-cancel, which SQLAlchemy logs as an error); a
notice in hand is never taken again by the same worker."""

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


class TestOwnClaims:
    async def test_a_claim_still_in_hand_is_not_sent_again_when_its_lease_runs_out(self, sessions):
        """The lease is on the worker's clock: a send that outlasts it (a long flood wait, or a clock
        moved ahead) makes the next pass take the notice again — it must not go out twice."""
        from datetime import UTC, datetime, timedelta

        from services import outbox
        from services.notices import NoticeKind, to_staff

        now = [datetime(2026, 11, 26, 2, 0, tzinfo=UTC)]
        worker = DeliveryWorker(sessions, None, None, policy=POLICY, clock=lambda: now[0],
                                lease=timedelta(minutes=5))
        async with sessions() as session:
            outbox.put(session, [to_staff(NoticeKind.QUEUE, 7, None)], now[0])
            await session.commit()
        sending, release, sent = asyncio.Event(), asyncio.Event(), []

        async def slow_deliver(row):
            sent.append(row.id)
            sending.set()
            await release.wait()
            async with sessions() as session:
                await outbox.mark_sent(session, row.id, worker=worker.name, message_id=1, now=now[0])

        worker.deliver = slow_deliver
        assert await worker.drain() == 1
        await sending.wait()
        now[0] += timedelta(minutes=30)  # the claim looks stale now
        await worker.drain()  # takes it again (the lease is renewed) …
        release.set()
        await asyncio.gather(*worker._consumers.values())
        assert sent == [sent[0]]  # … but sends it once
        async with sessions() as session:
            assert await outbox.due_count(session, now=now[0]) == 0
            assert [row.state for row in await outbox.claim(session, worker="other", now=now[0] + timedelta(hours=1),
                                                             lease=timedelta(minutes=5))] == []
