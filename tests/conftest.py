"""Shared fixtures: opt-in database backends (SQLite always, PostgreSQL and Redis when reachable)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

# Every SQLite transaction that reads and then writes must have begun as a write transaction;
# in tests that mistake raises (models.db.ReadThenWrite) instead of failing only under load.
os.environ.setdefault("HUIFANG_SQLITE_STRICT", "1")

from models.db import create_engine, session_factory, upgrade  # noqa: E402
from services.classify.model import MODEL_ENV, SHIPPED_MODEL_PATH  # noqa: E402

# the bot's default classifier uses the shipped model in tests, never a data/ model of this checkout
os.environ[MODEL_ENV] = str(SHIPPED_MODEL_PATH)
# …and the shipped lexicon, never an admin's edited copy in this checkout's data/ (a test edits its own)
import services.classify.lexicon as _lexicon_loader  # noqa: E402

_lexicon_loader.EDITED_LEXICON_PATH = Path(tempfile.gettempdir()) / "huifang-tests-no-edited-lexicon.toml"

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int) -> None:
    """Skip when a backend is missing on a developer machine; fail under CI, where it must run."""
    if _reachable(url, port):
        return
    message = f"{name} not reachable at {url} (set TEST_{name.upper()}_URL)"
    if IN_CI:
        pytest.fail(f"{message}; under CI=true this backend is required")
    pytest.skip(message)


async def reset_postgres(url: str) -> None:
    """Give each test an empty public schema on the shared test database."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "postgres":
        require_service("postgres", POSTGRES_URL, 5432)
        await reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'huifang.db'}"
    await upgrade(url)
    return url


@pytest.fixture
async def postgres_url() -> str:
    """A migrated, empty PostgreSQL database (for tests about PostgreSQL's own behaviour)."""
    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    await upgrade(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
async def sqlite_url(tmp_path) -> str:
    """A migrated SQLite database only (for tests that are about behaviour, not backends)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'huifang.db'}"
    await upgrade(url)
    return url


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
async def sandbox():
    """The Telegram sandbox over real HTTP, in this process (e2e tests and the delivery worker's)."""
    from sandbox import SandboxServer

    server = SandboxServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def redis_url() -> str:
    """A Redis database emptied for the test."""
    require_service("redis", REDIS_URL, 6379)
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture(scope="session")
def classifier():
    from services.classify import get_classifier

    return get_classifier()


def run(coro):
    """Run a coroutine from sync code (CLI tests)."""
    return asyncio.run(coro)
