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
