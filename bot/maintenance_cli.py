"""Operators' commands: ``retention [--dry-run]``, ``backup --out FILE`` and ``restore FILE``.

SQLite is copied with its online backup API (consistent while the bot runs); PostgreSQL with
``pg_dump``/``pg_restore`` when they are installed.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade, upgrade_sync
from models.types import utcnow
from services import retention


async def run_retention(*, dry_run: bool, out: TextIO, settings: Settings | None = None) -> int:
    """Anonymise what is past RETENTION now, or (dry run) list what would be."""
    settings = settings or Settings()
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            if dry_run:
                run = await retention.due(session, keep=settings.retention, now=utcnow())
            else:
                run = await retention.anonymise(session, keep=settings.retention, now=utcnow())
    finally:
        await engine.dispose()
    verb = "would anonymise" if dry_run else "anonymised"
    out.write(f"tickets finished before {run.cutoff:%Y-%m-%d}: {verb} {len(run.tickets)}\n")
    for number in run.tickets[:50]:
        out.write(f"  {number}\n")
    if len(run.tickets) > 50:
        out.write(f"  … and {len(run.tickets) - 50} more\n")
    if not dry_run:
        out.write(f"residents anonymised: {run.residents}; old notices deleted: {run.notices}\n")
    else:
        out.write(f"old notices that would be deleted: {run.notices}\n")
    return 0


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database not in (None, ":memory:") else None


def _pg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def backup(*, out_path: Path, out: TextIO, err: TextIO, settings: Settings | None = None) -> int:
    """Copy the database to ``out_path`` (SQLite file, or a pg_dump custom-format archive)."""
    settings = settings or Settings()
    source = _sqlite_path(settings.database_url)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        if not source.exists():
            err.write(f"error: no database at {source}\n")
            return 1
        with sqlite3.connect(source) as live, sqlite3.connect(out_path) as copy:
            live.backup(copy)  # a consistent copy even while the bot writes
        out.write(f"backup written: {out_path} ({out_path.stat().st_size} bytes)\n")
        return 0
    if shutil.which("pg_dump") is None:
        err.write("error: pg_dump is not installed (Debian: postgresql-client)\n")
        return 1
    done = subprocess.run(["pg_dump", "--format=custom", "--file", str(out_path), _pg_dsn(settings.database_url)],
                          capture_output=True, text=True)
    if done.returncode:
        err.write(f"error: pg_dump failed: {done.stderr.strip()}\n")
        return 1
    out.write(f"backup written: {out_path} ({out_path.stat().st_size} bytes)\n")
    return 0


def restore(*, from_path: Path, out: TextIO, err: TextIO, settings: Settings | None = None) -> int:
    """Replace the database with a backup (stop the bot first)."""
    settings = settings or Settings()
    if not from_path.exists():
        err.write(f"error: no backup at {from_path}\n")
        return 1
    target = _sqlite_path(settings.database_url)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(from_path) as saved, sqlite3.connect(target) as live:
            saved.backup(live)
        upgrade_sync(settings.database_url)  # an older backup gets the current schema
        out.write(f"restored {from_path} into {target}\n")
        return 0
    if shutil.which("pg_restore") is None:
        err.write("error: pg_restore is not installed (Debian: postgresql-client)\n")
        return 1
    done = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname",
                           _pg_dsn(settings.database_url), str(from_path)], capture_output=True, text=True)
    if done.returncode:
        err.write(f"error: pg_restore failed: {done.stderr.strip()}\n")
        return 1
    upgrade_sync(settings.database_url)
    out.write(f"restored {from_path}\n")
    return 0
