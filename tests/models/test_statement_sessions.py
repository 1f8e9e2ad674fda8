"""statement_sessions: one-statement work without a transaction around it on PostgreSQL, the
ordinary sessions elsewhere; the pool's connections go back to transactions afterwards."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import make_transient_to_detached

from models.db import STATEMENTS_INFO, create_engine, reading, session_factory, statement_sessions
from models.tables import Resident, Staff, Team
from services import outbox
from services.notices import NoticeKind, to_staff
from tests.conftest import POSTGRES_URL
from tests.models.test_rows import NOW
from tests.statements import simple_queries

VISIBLE = text("SELECT count(*) FROM team WHERE code = :code")
ADD = text("INSERT INTO team (name, code, categories, special) VALUES (:code, :code, '[]', false)")


@pytest.fixture
async def one_connection(postgres_url):
    """A migrated PostgreSQL database behind a pool of one connection (every session gets the same)."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
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


@pytest.mark.postgres
class TestReading:
    """reading(session): the session's own transaction when it has begun on the database, else a
    statement session (the bot's per-update sessions carry one in their info)."""

    @staticmethod
    def update_session(sessions):
        session = sessions()
        session.sync_session.info[STATEMENTS_INFO] = statement_sessions(sessions)
        return session

    async def test_before_anything_is_read_the_read_goes_alone(self, one_connection, server_queries):
        sessions = session_factory(one_connection)
        async with one_connection.connect():
            pass
        server_queries.clear()
        async with self.update_session(sessions) as session:
            cached = Resident(id=5, telegram_id=5, chat_id=5, name="x")
            make_transient_to_detached(cached)
            session.add(cached)  # as a cached resident is attached: the ORM's transaction begins here
            async with reading(session) as reader:
                assert reader is not session
                assert (await _run(reader, VISIBLE, code="x")).scalar_one() == 0
        assert server_queries == []

    async def test_a_transaction_on_the_database_is_joined(self, one_connection, server_queries):
        sessions = session_factory(one_connection)
        async with self.update_session(sessions) as session:
            await _run(session, ADD, code="mine")  # begun, and not committed
            async with reading(session) as reader:
                assert reader is session
                assert (await _run(reader, VISIBLE, code="mine")).scalar_one() == 1  # sees its own write
            await session.commit()
            async with reading(session) as reader:  # that transaction ended: alone again
                assert reader is not session

    async def test_a_session_without_statement_sessions_reads_itself(self, one_connection):
        async with session_factory(one_connection)() as session:
            async with reading(session) as reader:
                assert reader is session


class TestElsewhere:
    async def test_sqlite_keeps_its_sessions(self, sqlite_url):
        engine = create_engine(sqlite_url)
        try:
            sessions = session_factory(engine)
            assert statement_sessions(sessions) is sessions
        finally:
            await engine.dispose()
