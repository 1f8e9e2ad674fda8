"""Residents filing at the same time, and an intake that survives a restart of the bot."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlmodel import select

from bot.app import HuifangApp
from models.tables import Complaint
from tests.e2e.conftest import make_settings
from tests.e2e.flows import intake, text

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TS\d{8}-\d{4}")


class TestConcurrentResidents:
    async def test_many_residents_at_once(self, sandbox, client, database_url, classifier):
        """Distinct ticket numbers and no cross-talk, on SQLite and PostgreSQL."""
        app = HuifangApp(make_settings(sandbox, database_url), classifier=classifier)
        await app.start()
        try:
            users = [client.user(6000 + i, first_name=f"住户{i}", phone=f"1380000{i:04d}") for i in range(8)]
            results = await asyncio.gather(
                *(intake(u, f"{i}号住户反映：楼道灯坏了第{i}盏", f"{i + 1}栋") for i, u in enumerate(users))
            )
            numbers = [number for _, number in results]
            results = [(summary.text, number) for summary, number in results]
            assert len(set(numbers)) == len(users)
            for i, (summary, _) in enumerate(results):
                assert f"{i}号住户反映" in summary and f"第{i}盏" in summary
                assert f"1380000{i:04d}" in summary
                others = [f"{j}号住户" for j in range(len(users)) if j != i]
                assert not any(other in summary for other in others)
            async with app.sessions() as session:
                stored = {c.number: c for c in (await session.exec(select(Complaint))).all()}
            assert set(stored) == set(numbers)
            for i, number in enumerate(numbers):
                assert stored[number].location == f"{i + 1}栋"
        finally:
            await app.stop()


class TestRestart:
    async def _restart_mid_intake(self, settings, client, classifier, check_stored) -> tuple[str, HuifangApp]:
        user = client.user(7001, first_name="赵磊", phone="13700001111")
        first = HuifangApp(settings, classifier=classifier)
        await first.start()
        await user.send("地下车库的照明灯坏了一大片，晚上很黑")
        await user.expect("在哪里")
        await user.send("地下车库A区")
        await user.expect("联系方式")
        await first.stop()  # the process goes away mid-intake
        await check_stored()

        second = HuifangApp(settings, classifier=classifier)
        await second.start()
        await user.tap(text("btn_share_phone"))
        summary = await user.expect("请确认")
        assert "地下车库的照明灯坏了一大片" in summary.text and "地下车库A区" in summary.text
        await user.press("确认提交", summary)
        receipt = await user.expect("工单号")
        return TICKET.search(receipt.text).group(0), second

    async def test_intake_survives_restart_with_database_state(self, sandbox, client, sqlite_url, classifier):
        settings = make_settings(sandbox, sqlite_url)

        async def state_in_database():
            from models.db import create_engine, session_factory
            from models.tables import FsmRecord

            engine = create_engine(sqlite_url)
            async with session_factory(engine)() as session:
                [record] = (await session.exec(select(FsmRecord))).all()
            await engine.dispose()
            assert record.state == "Intake:contact" and record.data["location"] == "地下车库A区"

        number, app = await self._restart_mid_intake(settings, client, classifier, state_in_database)
        try:
            async with app.sessions() as session:
                stored = (await session.exec(select(Complaint))).one()
            assert stored.number == number and stored.location == "地下车库A区"
        finally:
            await app.stop()

    @pytest.mark.redis
    async def test_intake_survives_restart_with_redis_state(self, sandbox, client, sqlite_url, redis_url, classifier):
        settings = make_settings(sandbox, sqlite_url, redis_url=redis_url)

        async def state_in_redis():
            from redis.asyncio import Redis

            redis = Redis.from_url(redis_url)
            try:
                keys = [k.decode() for k in await redis.keys("fsm:*:7001:*")]
                states = [await redis.get(k) for k in keys if k.endswith(":state")]
            finally:
                await redis.aclose()
            assert states == [b"Intake:contact"]

        number, app = await self._restart_mid_intake(settings, client, classifier, state_in_redis)
        try:
            async with app.sessions() as session:
                assert (await session.exec(select(Complaint))).one().number == number
        finally:
            await app.stop()
