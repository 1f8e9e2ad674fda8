"""The running bot (with its web console) does not load the report's libraries until a report is
made: openpyxl, matplotlib and numpy are tens of MB of idle memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys, tempfile
from bot.app import HuifangApp
from bot.settings import Settings

folder = tempfile.mkdtemp()
settings = Settings(bot_token="123456:TEST-token", telegram_api_base="http://127.0.0.1:9", report_day=0,
                    database_url=f"sqlite+aiosqlite:///{folder}/x.db", web_port=8080, _env_file=None)

async def main():
    app = HuifangApp(settings)
    assert app.web is not None
    await app.engine.dispose()

asyncio.run(main())
print(sorted({m.split(".")[0] for m in sys.modules} & {"openpyxl", "matplotlib", "numpy"}))
"""


def test_the_bot_and_its_console_start_without_the_report_libraries():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


STARTUP_SCRIPT = """
import asyncio, socket, sys, tempfile
import aiohttp
from bot.app import HuifangApp
from bot.settings import Settings
from models.db import upgrade

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
folder = tempfile.mkdtemp()
settings = Settings(bot_token="123456:TEST-token", telegram_api_base="http://127.0.0.1:9", report_day=0,
                    database_url=f"sqlite+aiosqlite:///{folder}/x.db", web_host="127.0.0.1", web_port=port,
                    _env_file=None)
LAZY = {"alembic", "mako", "fastapi", "starlette", "jinja2", "jieba", "redis", "uvicorn", "typer",
        "sqlalchemy.dialects.postgresql"}

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & LAZY | set(sys.modules) & LAZY)

async def main():
    app = HuifangApp(settings)
    await upgrade(settings.database_url, separate_process=True)  # what prepare() does: a new database
    await app.web.start()
    print(app.classifier.classify("电梯坏了，困人了").category.value)
    print(loaded())
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
            print(response.status)
    print(loaded())
    await app.web.stop()
    await app.engine.dispose()

asyncio.run(main())
"""


def test_the_bot_starts_without_alembic_the_console_libraries_and_jieba():
    """Migrations run in a child process; the console (its server too) is started at its first
    request; the classifier segments with the compact dictionary (jieba itself is imported only
    for HMM cuts); on SQLite, PostgreSQL's dialect is not loaded."""
    from services.classify.dictionary import load_dictionary

    load_dictionary()  # the machine's dictionary cache exists (the first use anywhere builds it)
    result = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    category, before, status, after = result.stdout.strip().splitlines()[-4:]
    assert category == "工程管理"  # the first message classifies as ever
    assert before == "[]"
    assert status == "200" and after == "['fastapi', 'jinja2', 'starlette', 'uvicorn']"


ENTRY_SCRIPT = """
import sys
from bot.__main__ import main
try:
    main({argv!r})
except SystemExit as stop:
    code = stop.code
print(code, sorted({{m.split(".")[0] for m in sys.modules}} & {{"typer", "click", "rich"}}))
"""


class TestEntryPoint:
    """``python -m bot`` starts the bot without the command-line library; subcommands still use it."""

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        import os

        env = {**os.environ, "BOT_TOKEN": ""}
        return subprocess.run([sys.executable, "-c", ENTRY_SCRIPT.format(argv=argv)], capture_output=True, text=True,
                              timeout=300, cwd=Path(__file__).parents[2], env=env)

    def test_plain_run_does_not_load_typer(self):
        for argv in ([], ["run"], ["run", "-v"]):
            result = self.run(argv)
            assert result.stdout.strip().splitlines()[-1] == "2 []", (argv, result.stdout, result.stderr[-2000:])
            assert "@BotFather" in result.stderr  # no token: the help on getting one

    def test_subcommands_go_through_the_command_line(self):
        result = self.run(["--help"])
        code, loaded = result.stdout.strip().splitlines()[-1].split(" ", 1)
        assert code == "0" and "'typer'" in loaded
        assert "report" in result.stdout and "classify" in result.stdout
