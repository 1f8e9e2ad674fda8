"""``python -m bot`` starts the schema migration as a child process before importing the bot
(bot.migration): it migrates the same database file, even one given by a relative path, and a
failure stops the start with alembic's message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import migration
from models.db import HEAD_REVISION, schema_revision

ROOT = Path(__file__).parents[2]


def test_in_memory_databases_are_migrated_in_process():
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite://"):
        assert migration.in_memory(url) and migration.start(url) is None
    for url in ("sqlite+aiosqlite:///./data/huifang.db", "postgresql+asyncpg://u@h/db"):
        assert not migration.in_memory(url)


SCRIPT = """
import asyncio, sys
from bot import migration
asyncio.run(migration.start(sys.argv[1]).wait())
print("alembic" in sys.modules, "sqlalchemy" in sys.modules)
"""


async def test_a_relative_sqlite_path_is_migrated_in_the_callers_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, "sqlite+aiosqlite:///./sub/rel.db"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]  # the caller imported neither
    assert await schema_revision(f"sqlite+aiosqlite:///{tmp_path}/sub/rel.db") == HEAD_REVISION


async def test_a_failed_migration_stops_the_start(tmp_path):
    (tmp_path / "not-a-db").write_bytes(b"this is not an SQLite database file" * 100)
    with pytest.raises(RuntimeError, match="migrating the database failed"):
        await migration.start(f"sqlite+aiosqlite:///{tmp_path}/not-a-db").wait()


async def test_the_migration_runs_before_it_is_waited_for(tmp_path):
    """The child gets the URL at once, so a new database is migrated while the bot still imports."""
    url = f"sqlite+aiosqlite:///{tmp_path}/early.db"
    started = migration.start(url)
    try:
        # the child's exit, without wait(): it would block on its stdin if the URL came only then
        returncode = await asyncio.to_thread(started.process.wait, 120)
        assert returncode == 0
        assert await schema_revision(url) == HEAD_REVISION
    finally:
        await started.wait()
