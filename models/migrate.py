"""``python -m models.migrate [REVISION]``: bring the database whose URL is read from standard
input (not from argv, which every process listing shows) to REVISION (default: the newest).

A database already at the newest revision costs one query (``models.db.upgrade``).  The bot
migrates through this child process (``bot.migration``, ``models.db.upgrade(...,
separate_process=True)``) so that alembic and the migrations' garbage never stay in its memory."""

from __future__ import annotations

import asyncio
import sys

from models.db import upgrade

if __name__ == "__main__":
    url = sys.stdin.read().strip()
    if not url:
        raise SystemExit("no database URL on standard input")
    asyncio.run(upgrade(url, sys.argv[1] if len(sys.argv) > 1 else "head"))
