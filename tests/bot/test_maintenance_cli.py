"""Backups and restores of the SQLite database, and the retention command's dry run."""

from __future__ import annotations

import io
import sqlite3

from bot.maintenance_cli import backup, restore, run_retention
from bot.settings import Settings


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, _env_file=None)


class TestBackup:
    def test_backup_then_restore_elsewhere(self, sqlite_url, tmp_path):
        source = sqlite_url.split("///", 1)[1]
        with sqlite3.connect(source) as db:
            db.execute("INSERT INTO team (code, name, categories, special) VALUES ('x1', 'X', '[]', 0)")
        out, err = io.StringIO(), io.StringIO()
        saved = tmp_path / "saved.db"
        assert backup(out_path=saved, out=out, err=err, settings=settings_for(sqlite_url)) == 0
        assert "backup written" in out.getvalue()
        target = tmp_path / "restored" / "huifang.db"
        assert restore(from_path=saved, out=out, err=err, settings=settings_for(f"sqlite+aiosqlite:///{target}")) == 0
        with sqlite3.connect(target) as db:
            assert db.execute("SELECT name FROM team WHERE code = 'x1'").fetchone() == ("X",)

    def test_missing_files_are_explained(self, tmp_path):
        err = io.StringIO()
        settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
        assert backup(out_path=tmp_path / "b.db", out=io.StringIO(), err=err, settings=settings) == 1
        assert restore(from_path=tmp_path / "nothing.db", out=io.StringIO(), err=err, settings=settings) == 1
        assert "no database" in err.getvalue() and "no backup" in err.getvalue()


class TestRetentionCommand:
    async def test_dry_run_changes_nothing(self, sqlite_url):
        out = io.StringIO()
        assert await run_retention(dry_run=True, out=out, settings=settings_for(sqlite_url)) == 0
        assert "would anonymise 0" in out.getvalue()
