"""`db copy`: every row from SQLite into an empty PostgreSQL database, ids and links intact."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from models.copy import copy_database
from models.db import create_engine, session_factory
from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Resident, Team
from services import lifecycle
from services import staff as staff_service
from tests.conftest import POSTGRES_URL, require_service, reset_postgres

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.postgres
async def test_sqlite_to_postgres(sqlite_url, classifier):
    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    source = create_engine(sqlite_url)
    async with session_factory(source)() as session:
        await staff_service.seed_teams(session)
        resident = await lifecycle.get_or_create_resident(
            session, lifecycle.ResidentProfile(telegram_id=1, chat_id=1, name="张三"))
        for n in range(3):
            await lifecycle.submit_complaint(session, resident=resident, draft_key=f"d{n}", tz=ZoneInfo("Asia/Shanghai"),
                                             data=ComplaintCreate(description="电梯坏了", location="3栋"),
                                             classification=classifier.classify("电梯坏了"), now=NOW)
    await source.dispose()

    copied = await copy_database(sqlite_url, POSTGRES_URL, batch=2)
    assert (copied["complaint"], copied["resident"], copied["complaint_event"]) == (3, 1, 3)
    target = create_engine(POSTGRES_URL)
    async with session_factory(target)() as session:
        numbers = (await session.exec(select(Complaint.number).order_by(Complaint.id))).all()
        assert numbers == ["TS20261126-0001", "TS20261126-0002", "TS20261126-0003"]
        assert (await session.exec(select(func.count()).select_from(Team))).one() == copied["team"]
        await lifecycle.get_or_create_resident(session, lifecycle.ResidentProfile(telegram_id=2, chat_id=2, name="李四"))
        assert (await session.exec(select(func.max(Resident.id)))).one() == 2  # sequences moved past the copy
        assert (await session.exec(select(func.count()).select_from(ComplaintEvent))).one() == 3
    await target.dispose()
    with pytest.raises(ValueError, match="already has rows"):
        await copy_database(sqlite_url, POSTGRES_URL)
