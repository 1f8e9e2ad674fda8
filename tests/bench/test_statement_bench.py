"""The statement bench's six ways send the same UPDATE: each changes the one ticket it is given, and
nothing when the WHERE does not hold (what is compared is the way, not the work). Not speed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bench import statement_bench
from models.db import create_engine, session_factory
from models.tables import Complaint


@pytest.mark.postgres
class TestEveryWay:
    async def test_every_way_updates_the_ticket_it_is_given(self, postgres_url):
        engine = create_engine(postgres_url)
        sessions = session_factory(engine)
        try:
            complaint_id, status = await statement_bench._file_one(sessions)
            for name, way in statement_bench.ways(complaint_id, status).items():
                async with sessions() as session:
                    assert [await way(session, n) for n in range(3)] == [1, 1, 1], name
                    updated_at = (await session.exec(select(Complaint.updated_at)
                                                     .where(Complaint.id == complaint_id))).one()
                    assert updated_at == statement_bench.NOW + timedelta(seconds=2), name
                    await session.rollback()
            for name, way in statement_bench.ways(complaint_id, "closed").items():  # not its status
                async with sessions() as session:
                    assert await way(session, 0) == 0, name
                    await session.rollback()
        finally:
            await engine.dispose()
