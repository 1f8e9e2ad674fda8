"""statement_sessions: one-statement work without a transaction around it on PostgreSQL, the
ordinary sessions elsewhere; the pool's connections go back to transactions afterwards."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text

from models.db import create_engine, session_factory, statement_sessions, upgrade
from models.tables import Staff, Team
from services import outbox
from services.notices import NoticeKind, to_staff
from tests.conftest import POSTGRES_URL, require_service, reset_postgres
from tests.models.test_rows import NOW
from tests.statements import simple_queries

VISIBLE = text("SELECT count(*) FROM team WHERE code = :code")
ADD = text("INSERT INTO team (name, code, categories, special) VALUES (:code, :code, '[]', false)")


@pytest.fixture
async def one_connection():
    """A migrated PostgreSQL database behind a pool of one connection (every session gets the same)."""
    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    await upgrade(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture
def server_queries():
    with simple_queries() as sent:
        yield sent


async def _visible_elsewhere(code: str) -> int:
    """What another connection sees (asyncpg alone: nothing of it is recorded as the pool's)."""
    other = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        return await other.fetchval("SELECT count(*) FROM team WHERE code = $1", code)
    finally:
        await other.close()


async def _run(session, statement, **params):
    return await (await session.connection()).execute(statement, params)


@pytest.mark.postgres
class TestOnPostgres:
    async def test_a_statement_stands_alone(self, one_connection, server_queries):
        async with one_connection.connect():
            pass  # the dialect's first-connect queries, not this test's
        server_queries.clear()
        statements = statement_sessions(session_factory(one_connection))
        async with statements() as session:
            await _run(session, ADD, code="alone")
            assert await _visible_elsewhere("alone") == 1  # no transaction held it back
        assert "BEGIN" not in server_queries and "COMMIT" not in server_queries
        assert "ROLLBACK" not in server_queries

    async def test_the_connection_goes_back_to_transactions(self, one_connection):
        sessions = session_factory(one_connection)
        async with statement_sessions(sessions)() as session:
            await _run(session, VISIBLE, code="x")
        async with sessions() as session:  # the pool's one connection again
            await _run(session, ADD, code="held")
            assert await _visible_elsewhere("held") == 0  # inside a transaction until it commits
            await session.rollback()
        assert await _visible_elsewhere("held") == 0

    async def test_a_claim_and_a_mark_cost_their_statements_only(self, one_connection, server_queries):
        sessions = session_factory(one_connection)
        async with sessions() as session:
            team = Team(code="t", name="t")
            session.add(team)
            await session.flush()
            person = Staff(name="s", team_id=team.id, created_at=NOW)
            session.add(person)
            await session.flush()
            await outbox.commit_with(session, [to_staff(NoticeKind.QUEUE, person.id, None)], NOW)
        server_queries.clear()
        statements = statement_sessions(sessions)
        async with statements() as session:
            [row] = await outbox.claim(session, worker="w", now=NOW, lease=timedelta(minutes=5))
        async with statements() as session:
            assert await outbox.mark_sent(session, row.id, worker="w", message_id=7, now=NOW)
        assert server_queries == []  # neither BEGIN nor COMMIT: the UPDATEs went alone
        async with sessions() as session:
            assert await outbox.pending_count(session) == 0


class TestElsewhere:
    async def test_sqlite_keeps_its_sessions(self, sqlite_url):
        engine = create_engine(sqlite_url)
        try:
            sessions = session_factory(engine)
            assert statement_sessions(sessions) is sessions
        finally:
            await engine.dispose()
