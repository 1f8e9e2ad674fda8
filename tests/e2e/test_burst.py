"""A burst of 200 complaints with Telegram-like flood limits on: no 429, every ping delivered."""

from __future__ import annotations

import asyncio
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import HuifangApp
from bot.settings import RateSettings
from models.tables import Complaint, ComplaintCreate, Staff
from sandbox import SandboxClient, SandboxServer
from services import lifecycle, routing
from tests.e2e.conftest import make_settings
from tests.e2e.flows import onboard

pytestmark = pytest.mark.e2e

WORKERS = 20
COMPLAINTS = 200


@pytest.fixture
async def limited_sandbox():
    server = SandboxServer(rate_limits=True)
    await server.start()
    yield server
    await server.stop()


async def dispatch(app: HuifangApp, ticket_id: int) -> None:
    """Route one ticket in its own session, as one update's handler would."""
    async with app.sessions() as session:
        await routing.dispatch(session, ticket_id, now=app.clock())


async def test_burst_of_200_complaints(limited_sandbox, sqlite_url, classifier):
    settings = make_settings(limited_sandbox, sqlite_url, rate=RateSettings())  # production pacing
    app = HuifangApp(settings, classifier=classifier)
    await app.start()
    try:
        async with SandboxClient(limited_sandbox.base_url) as client:
            workers = [await onboard(app, client, 20000 + i, f"工程{i:02d}", "engineering") for i in range(WORKERS)]
            description = "3栋1单元电梯坏了，一直没人修"
            classification = classifier.classify(description)
            ids = []
            async with app.sessions() as session:
                for i in range(COMPLAINTS):
                    resident = await lifecycle.get_or_create_resident(
                        session, lifecycle.ResidentProfile(telegram_id=30000 + i, chat_id=30000 + i, name=f"住户{i}")
                    )
                    complaint = await lifecycle.submit_complaint(
                        session, resident=resident, classification=classification, draft_key=f"burst-{i}",
                        tz=ZoneInfo("Asia/Shanghai"), now=app.clock(),
                        data=ComplaintCreate(description=f"{description}（{i}）", location=f"{i % 9 + 1}栋",
                                             contact_phone="13812345678", contact_name=f"住户{i}"),
                    )
                    ids.append(complaint.id)

            await asyncio.gather(*(dispatch(app, ticket_id) for ticket_id in ids))
            await app.delivery.flush(timeout=120)

            async with app.sessions() as session:
                complaints = (await session.exec(select(Complaint))).all()
                staff = {p.id: p for p in (await session.exec(select(Staff))).all()}
            assert all(c.assignee_id is not None and c.status == "assigned" for c in complaints)
            per_worker = Counter(staff[c.assignee_id].telegram_id for c in complaints)
            assert sorted(per_worker.values()) == [COMPLAINTS // WORKERS] * WORKERS  # fewest-open-first spreads evenly
            for worker in workers:
                pings = [m for m in await worker.messages() if "新工单派给您" in (m.text or "")]
                numbers = {c.number for c in complaints if staff[c.assignee_id].telegram_id == worker.id}
                assert {n for m in pings for n in numbers if n in m.text} == numbers
                assert len(pings) == len(numbers)
            stats = await client.stats()
            assert stats["retry_after_returned"] == 0
    finally:
        await app.stop()


async def test_two_processes_route_evenly_on_postgres(sandbox, client, classifier):
    """Two bot processes dispatching at once on one PostgreSQL: the least-loaded rule still holds."""
    from models.db import upgrade
    from tests.conftest import POSTGRES_URL, require_service, reset_postgres

    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    await upgrade(POSTGRES_URL)
    settings = make_settings(sandbox, POSTGRES_URL)
    first = HuifangApp(settings, classifier=classifier, with_scheduler=False)
    second = HuifangApp(settings, classifier=classifier, with_scheduler=False)  # a second process, not polling
    await first.start()
    try:
        for i in range(4):
            await onboard(first, client, 21000 + i, f"维修{i}", "engineering")
        classification = classifier.classify("电梯坏了")
        ids = []
        async with first.sessions() as session:
            for i in range(20):
                resident = await lifecycle.get_or_create_resident(
                    session, lifecycle.ResidentProfile(telegram_id=31000 + i, chat_id=31000 + i, name=f"r{i}"))
                complaint = await lifecycle.submit_complaint(
                    session, resident=resident, classification=classification, draft_key=f"pg-{i}",
                    tz=ZoneInfo("Asia/Shanghai"), data=ComplaintCreate(description="电梯坏了", location=f"{i}栋"),
                    now=first.clock())
                ids.append(complaint.id)
        await asyncio.gather(*(dispatch(app, ticket_id) for ticket_id, app in zip(ids, [first, second] * 10)))
        async with first.sessions() as session:
            complaints = (await session.exec(select(Complaint))).all()
        assert sorted(Counter(c.assignee_id for c in complaints).values()) == [5, 5, 5, 5]
    finally:
        await second.bot.session.close()
        await second.engine.dispose()
        await first.stop()
