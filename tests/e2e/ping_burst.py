"""File a burst of dispatched tickets from a process of its own (``python -m tests.e2e.ping_burst URL COUNT``).

The webhook test files its 300-ping burst with this, so the filing does not compete with the test
process's loop (the balancer, the test's database reads) while the bot processes send.

The tickets are stamped with the real clock because the bot processes that deliver the pings read
the real clock too (separate processes: no clock to inject). Nothing the test asserts depends on
the time of day: routing and delivery do not look at working hours, only at open tickets per person.
"""

from __future__ import annotations

import asyncio
import sys
from zoneinfo import ZoneInfo

from models.db import create_engine, session_factory
from models.tables import ComplaintCreate
from models.types import utcnow
from services import lifecycle, routing
from services.classify import get_classifier


async def file_pings(database_url: str, count: int) -> None:
    """File ``count`` tickets for the engineering team, each dispatched (its assignee pinged)."""
    engine = create_engine(database_url)
    classification = get_classifier().classify("电梯坏了")
    try:
        async with session_factory(engine)() as session:
            resident = await lifecycle.get_or_create_resident(
                session, lifecycle.ResidentProfile(telegram_id=59999, chat_id=59999, name="批量"))
            for n in range(count):
                complaint = await lifecycle.submit_complaint(
                    session, resident=resident, draft_key=f"burst-{n}", tz=ZoneInfo("Asia/Shanghai"), now=utcnow(),
                    data=ComplaintCreate(description=f"楼道灯坏了（{n}）", location=f"{n % 9 + 1}栋"),
                    classification=classification)
                await routing.dispatch(session, complaint.id, now=utcnow())
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(file_pings(sys.argv[1], int(sys.argv[2])))
