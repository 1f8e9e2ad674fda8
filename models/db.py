"""Engine, sessions and schema migrations; the same code serves SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def create_engine(database_url: str, **kwargs) -> AsyncEngine:
    """Create the async engine; on SQLite make writers queue instead of failing."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's lazy BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn) -> None:
        # A deferred BEGIN: readers never block. Writers queue on busy_timeout, provided the
        # write is the first statement of its transaction (see fresh_transaction).
        conn.exec_driver_sql("BEGIN")

    return engine


async def fresh_transaction(session: AsyncSession) -> None:
    """End the session's read transaction right before writing: call it after the last read.

    On SQLite (WAL) a transaction that read first and writes later fails at once with
    SQLITE_BUSY if another connection wrote in between; one that starts with its write just
    waits its turn. So: read what you need, call this, then write. Committing here also
    flushes anything already pending. No-op on a fresh session.
    """
    if session.in_transaction():
        await session.commit()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; for the CLI and tests)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations from async code without blocking the event loop."""
    await asyncio.to_thread(upgrade_sync, database_url, revision)
