"""The schema migration of ``python -m bot``, started first and run beside the bot's own imports.

``start(url)`` launches ``python -m models.migrate`` (one query when the database is already at
the newest revision, else alembic's migrations) as a child process at once, before the bot imports
aiogram and the rest: on a machine with two cores a new database is migrated while the bot is
still loading, and alembic never enters the bot's memory.  ``wait()`` is awaited before the bot
touches the database.  Standard library only, so that starting it costs nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def in_memory(database_url: str) -> bool:
    """An in-memory SQLite database cannot be migrated by another process."""
    return database_url.startswith("sqlite") and (database_url.rstrip("/").endswith(":") or ":memory:" in database_url
                                                  or database_url.split("://", 1)[-1] in ("", "/"))


class Migration:
    """A migration running in a child process."""

    def __init__(self, database_url: str) -> None:
        # same working directory (a relative SQLite path means the same file), this code importable
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "models.migrate"], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # The URL on stdin (argv is public), written now: the child reads it as soon as it has loaded
        # and migrates while this process imports, not when wait() is reached.
        try:
            with self.process.stdin:
                self.process.stdin.write(database_url.encode())
        except BrokenPipeError:  # the child died loading; wait() reports its exit and message
            pass

    def _finish(self) -> None:
        with self.process.stderr:  # alembic's few lines of progress; the pipe holds them meanwhile
            stderr = self.process.stderr.read()
        self.process.wait()
        if self.process.returncode != 0:
            raise RuntimeError(f"migrating the database failed (exit {self.process.returncode}):\n"
                               f"{stderr.decode(errors='replace')[-4000:]}")

    async def wait(self) -> None:
        await asyncio.to_thread(self._finish)


def start(database_url: str) -> Migration | None:
    """The migration of ``database_url`` under way, or None when it must run in this process."""
    return None if in_memory(database_url) else Migration(database_url)
