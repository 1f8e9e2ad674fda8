"""``python -m models.migrate [REVISION]``: apply the schema migrations to the database whose URL
is read from standard input (not from argv, which every process listing shows).

The bot migrates through this child process (``models.db.upgrade(..., separate_process=True)``)
so that alembic and the migrations' garbage never stay in its memory."""

from __future__ import annotations

import sys

from models.db import upgrade_sync

if __name__ == "__main__":
    url = sys.stdin.read().strip()
    if not url:
        raise SystemExit("no database URL on standard input")
    upgrade_sync(url, sys.argv[1] if len(sys.argv) > 1 else "head")
