"""Engine, sessions and schema migrations; the same code serves SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest migration's revision, read off the file names (NNNN_what.py, revision "NNNN"): a
# database already there is left alone without importing alembic (11 MB of memory, most of a
# second at start). tests/models/test_migration_head.py checks it against alembic's own head.
HEAD_REVISION = max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
WRITE_OPTION = "huifang_write"  # execution option: this transaction will write (BEGIN IMMEDIATE on SQLite)
STRICT_ENV = "HUIFANG_SQLITE_STRICT"  # "1": a write after a read in a deferred transaction raises
_WRITE_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
STATUS_DOOR = "huifang_status_door"  # execution option carried by services.lifecycle.transition's UPDATE
_STATUS_UPDATE = re.compile(r"^\s*UPDATE\s+\"?complaint\"?\s+SET\s+(?P<set>.*?)(\s+WHERE\b|$)",
                            re.IGNORECASE | re.DOTALL)
_STATUS_COLUMN = re.compile(r"(^|[\s,])\"?status\"?\s*=", re.IGNORECASE)


class StatusOutsideTheDoor(RuntimeError):
    """complaint.status changed by something other than services.lifecycle.transition."""


def _guard_status(engine: AsyncEngine) -> None:
    """Every change of complaint.status goes through the one transition function (which writes the
    audit event with it); any other UPDATE of that column is refused, in tests and in production."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _status_only_through_the_door(conn, _cursor, statement, _parameters, context, _executemany) -> None:
        match = _STATUS_UPDATE.match(statement)
        if match and _STATUS_COLUMN.search(match.group("set")):
            if not (context is not None and context.execution_options.get(STATUS_DOOR)):
                raise StatusOutsideTheDoor("complaint.status may only change through services.lifecycle.transition")


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """A pooled connection the server closed (PostgreSQL restarted, an idle timeout, a terminated
    backend) is replaced at checkout, as ``pool_pre_ping`` would, without pre_ping's three round
    trips (BEGIN, ping, ROLLBACK) on every checkout: asyncpg notices the closed socket in the
    event loop, so ``is_closed()`` says so without asking the server."""

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _closed_by_server(dbapi_connection, _record, _proxy) -> None:
        connection = getattr(dbapi_connection, "_connection", None)
        if connection is not None and connection.is_closed():
            raise DisconnectionError("connection closed by the server")


class ReadThenWrite(RuntimeError):
    """A deferred SQLite transaction read and then tried to write; under WAL that fails at once
    with SQLITE_BUSY whenever another connection wrote in between. Start writes with
    :func:`fresh_transaction` (BEGIN IMMEDIATE)."""


def create_engine(database_url: str, **kwargs) -> AsyncEngine:
    """Create the async engine; on SQLite make writers queue instead of failing."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        kwargs.pop("pool_size", None)  # one shared in-memory connection: no pool to size
    if url.get_backend_name() != "sqlite":
        pinged = kwargs.setdefault("pool_pre_ping", False)
        engine = create_async_engine(url, **kwargs)
        _guard_status(engine)
        if not pinged and url.get_driver_name() == "asyncpg":
            _drop_closed_connections(engine)
        _track_writes(engine)
        return engine

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
    _guard_status(engine)

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
        # Readers BEGIN deferred and never block. A transaction that will write says so
        # (fresh_transaction) and BEGINs IMMEDIATE: it takes the write lock up front and
        # queues on busy_timeout, instead of failing when it upgrades from read to write.
        immediate = bool(conn.get_execution_options().get(WRITE_OPTION))
        conn.info["huifang_tx"] = "immediate" if immediate else "deferred"
        conn.info["huifang_read"] = False
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    if os.environ.get(STRICT_ENV) == "1":
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _no_read_then_write(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
            if conn.info.get("huifang_tx") != "deferred" or statement.lstrip().upper().startswith("BEGIN"):
                return
            if _WRITE_SQL.match(statement):
                if conn.info.get("huifang_read"):
                    raise ReadThenWrite(f"write after read in a deferred SQLite transaction: {statement[:80]}")
                conn.info["huifang_tx"] = "locked"  # it wrote first: it holds the write lock now
            else:
                conn.info["huifang_read"] = True

    return engine


_TX_WROTE = "huifang_tx_wrote"  # in the connection's info: this transaction wrote or took locks
_LOCKING_SQL = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)\b|pg_advisory", re.IGNORECASE)


def _track_writes(engine: AsyncEngine) -> None:
    """Remember whether the current transaction wrote anything or took a lock (PostgreSQL), so that
    fresh_transaction can keep a transaction that only read."""

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn) -> None:
        conn.info[_TX_WROTE] = False

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if not conn.info.get(_TX_WROTE) and _writes_or_locks(statement):
            conn.info[_TX_WROTE] = True


@functools.lru_cache(maxsize=2048)
def _writes_or_locks(statement: str) -> bool:
    """Whether a statement writes or takes a lock — remembered per SQL text: the same few texts come
    back from SQLAlchemy's compiled cache on every update, and the lock search reads a whole SELECT."""
    return bool(_WRITE_SQL.match(statement) or _LOCKING_SQL.search(statement))


async def _only_read_committed(session: AsyncSession) -> bool:
    """The session's PostgreSQL transaction has only read, at READ COMMITTED, and nothing is pending."""
    if session.bind.dialect.name != "postgresql" or session.new or session.dirty or session.deleted:
        return False
    connection = (await session.connection()).sync_connection
    return (connection.info.get(_TX_WROTE) is False and "isolation_level" not in connection.get_execution_options()
            and connection.default_isolation_level == "READ COMMITTED")


async def fresh_transaction(session: AsyncSession) -> None:
    """Start a write transaction: end the session's current one and begin anew, on SQLite with
    BEGIN IMMEDIATE.

    On SQLite (WAL) a transaction that read first and writes later fails at once with
    SQLITE_BUSY if another connection wrote in between; one that holds the write lock from its
    BEGIN just waits its turn (busy_timeout). Committing here also flushes anything already
    pending. Reads after this call see the latest data and are safe to act on.

    On PostgreSQL a transaction that has only read (no write, no lock, nothing pending) goes on:
    at READ COMMITTED every statement sees the latest committed data anyway, and COMMIT + BEGIN
    would be two round trips for nothing.
    """
    if session.in_transaction():
        if await _only_read_committed(session):
            return
        await session.commit()
    await session.connection(execution_options={WRITE_OPTION: True})


_SET = "set_"  # prefix of a prebuilt UPDATE's SET parameters: a bound parameter may not take a column's name


def set_clause(columns: Iterable[str]) -> dict[str, Any]:
    """The SET of an UPDATE built once and executed many times: a bound parameter per column.

    Building a statement on every call costs more CPU than sending it (SQLAlchemy constructs the
    clauses and derives their cache key each time, about half of a simple UPDATE's CPU); a statement
    built once per set of columns (``functools.lru_cache`` on the columns) is sent with
    :func:`set_values` as its parameters."""
    return {name: bindparam(_SET + name) for name in columns}


def set_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of :func:`set_clause`'s bound parameters for these column values."""
    return {_SET + name: value for name, value in values.items()}


def upsert_insert(session: AsyncSession):
    """``insert`` of the session's dialect (with ``on_conflict_do_…``); only that dialect is imported,
    so a bot on SQLite does not load PostgreSQL's (2 MB)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def statement_sessions(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that is one statement at a time — reads, or one write that stands alone
    (a claim, a mark): on PostgreSQL in autocommit, so each costs its own round trip and no BEGIN
    and COMMIT/ROLLBACK around it (a quarter to a third of such a session's CPU); elsewhere ``sessions``.

    At READ COMMITTED, PostgreSQL's default, every statement of a transaction sees the latest
    committed data anyway, so reads lose nothing; a write of one statement is atomic on its own.
    Work of several writes that belong together still takes ``sessions``. (SQLite is left as it
    is: its writers must BEGIN IMMEDIATE, see :func:`fresh_transaction`.)"""
    engine = getattr(sessions, "kw", {}).get("bind")  # none (a test's stand-in): left as it is
    if engine is None or engine.dialect.name != "postgresql":
        return sessions
    options = {key: value for key, value in sessions.kw.items() if key != "bind"}
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), class_=sessions.class_,
                              **options)


STATEMENTS_INFO = "huifang_statements"  # in a session's info: its database's statement_sessions
_CONNECTED = "huifang_connected"  # in a session's info: its transaction holds a database connection


@event.listens_for(Session, "after_begin")
def _connected(session: Session, _transaction, _connection) -> None:
    session.info[_CONNECTED] = True


@event.listens_for(Session, "after_transaction_end")
def _disconnected(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTED, None)


@contextlib.asynccontextmanager
async def reading(session: AsyncSession):
    """Where to run a read of one statement: ``session`` itself when its transaction has begun on
    the database (the read joins it), else a session of ``session.info[STATEMENTS_INFO]`` (see
    :func:`statement_sessions`; set by the bot's per-update sessions) — on PostgreSQL a read on its
    own then costs no BEGIN and ROLLBACK. Nothing pending in ``session`` is flushed for it.
    (``session.in_transaction()`` cannot tell: adding an object begins the ORM's transaction
    before any connection is taken.)"""
    statements = session.sync_session.info.get(STATEMENTS_INFO)
    if statements is None or session.sync_session.info.get(_CONNECTED):
        yield session
        return
    async with statements() as reader:
        yield reader


def alembic_config(database_url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; for the CLI and tests)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


async def schema_revision(database_url: str) -> str | None:
    """The database's alembic revision (one query), None when it has none (a new database)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = (await connection.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version table yet
        return None
    finally:
        await engine.dispose()
    return rows[0][0] if len(rows) == 1 else None


async def upgrade(database_url: str, revision: str = "head", *, separate_process: bool = False) -> None:
    """Apply migrations from async code without blocking the event loop.

    A database already at the newest revision costs one query: alembic is not even imported.
    ``separate_process``: migrate in a child process (``python -m models.migrate``) unless this
    process has imported alembic already, so that a long-running process (the bot) does not
    keep alembic and the migrations' garbage in its memory.
    """
    if revision == "head" and await schema_revision(database_url) == HEAD_REVISION:
        return
    url = make_url(database_url)
    in_memory = url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:")
    if separate_process and not in_memory and "alembic" not in sys.modules:
        await _upgrade_in_child(database_url, revision)
        return
    await asyncio.to_thread(upgrade_sync, database_url, revision)


async def _upgrade_in_child(database_url: str, revision: str) -> None:
    # same working directory (a relative SQLite path means the same file), this code importable
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "models.migrate", revision, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    _, stderr = await process.communicate(database_url.encode())  # not in argv: ps shows argv
    if process.returncode != 0:
        raise RuntimeError(f"migrating the database failed (exit {process.returncode}):\n"
                           f"{stderr.decode(errors='replace')[-4000:]}")


@contextlib.asynccontextmanager
async def writing(session: AsyncSession):
    """One write transaction: begun with :func:`fresh_transaction`, rolled back if the body raises
    (a refusal releases the write lock at once). The body commits when it is done."""
    await fresh_transaction(session)
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
