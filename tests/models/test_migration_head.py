"""A database at the newest migration is recognised with one query (alembic is not imported for
it), and a new one is migrated, in a child process when the caller asks for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from models.db import HEAD_REVISION, MIGRATIONS_DIR, schema_revision, upgrade


def test_head_revision_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == HEAD_REVISION
    assert any(p.name.startswith(HEAD_REVISION) for p in (MIGRATIONS_DIR / "versions").glob("*.py"))


async def test_a_new_database_has_no_revision_and_gets_the_newest(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/new.db"
    assert await schema_revision(url) is None
    await upgrade(url)
    assert await schema_revision(url) == HEAD_REVISION


SCRIPT = """
import asyncio, sys
from models.db import upgrade, schema_revision
url = sys.argv[1]
asyncio.run(upgrade(url, separate_process=True))
print(asyncio.run(schema_revision(url)), "alembic" in sys.modules)
asyncio.run(upgrade(url, separate_process=True))
print("alembic" in sys.modules)
"""


def test_the_bots_migration_keeps_alembic_out_of_its_process(tmp_path):
    # a new database: migrated by a child process; then at head: one query, nothing imported
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    result = subprocess.run([sys.executable, "-c", SCRIPT, url], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [HEAD_REVISION, "False", "False"]
