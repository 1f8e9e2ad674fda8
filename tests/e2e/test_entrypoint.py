"""The real entry point: `python -m bot` as a process against the sandbox, and without a token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tests.e2e.conftest import TOKEN
from tests.e2e.flows import wait_for

pytestmark = pytest.mark.e2e


async def test_python_m_bot_serves_a_resident_and_stops_on_sigint(sandbox, client, tmp_path):
    env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox.base_url,
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "POLLING_TIMEOUT": "2", "REPORT_DAY": "0",
           "WEB_PORT": "0"}  # the console beside the bot: tests/web/test_processes.py
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        resident = client.user(7777, first_name="进程测试")
        await resident.send("/start")
        greeting = await resident.next_message(timeout=60)
        assert "物业客服中心" in greeting.text
        await resident.send("楼道灯坏了")
        assert "在哪里" in (await resident.next_message(timeout=20)).text
        # the command menu is announced once polling has started, in every language
        languages = {c["params"].get("language_code") for c in await client.calls("setMyCommands")}
        assert languages == {None, "zh-hant", "zh-tw", "zh-hk", "en"}
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (tmp_path / "bot.db").exists()  # migrated on start


async def test_without_token_it_explains_and_fails(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "@BotFather" in stderr.decode() and "make demo" in stderr.decode()


async def test_demo_prints_a_transcript_ending_with_the_ticket(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", cwd=tmp_path, env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert stderr.decode() == "", "the demo prints the transcript only: no log line, no traceback"
    transcript = stdout.decode()
    assert transcript.startswith("=== Huifang demo")
    for step in ("/start", "请描述", "在哪里", "联系方式", "请确认", "提交成功"):
        assert step in transcript
    last = transcript.strip().splitlines()[-1]
    assert last.startswith("=== ticket TS") and last.split()[2] in transcript.split("提交成功")[1]


async def test_the_heap_is_settled_once_the_first_poll_is_out(sandbox, sqlite_url, classifier, monkeypatch):
    """``run`` freezes the loaded heap (a tenth of a second) after the first getUpdates and the
    command menu, not before the bot starts listening."""
    from bot import app as app_module
    from tests.e2e.conftest import make_settings

    seen: list[dict[str, int]] = []
    monkeypatch.setattr(app_module, "settle_heap", lambda: seen.append(dict(sandbox.world.call_counts)))
    huifang = app_module.HuifangApp(make_settings(sandbox, sqlite_url), classifier=classifier, with_scheduler=False)
    running = asyncio.create_task(huifang.run(handle_signals=False))

    async def settled_or_ended() -> bool:
        return bool(seen) or running.done()

    try:
        await wait_for(settled_or_ended, timeout=30)
    finally:
        huifang.poller.stop()
        await asyncio.gather(running, return_exceptions=True)
        await huifang.stop()
    assert running.exception() is None
    assert len(seen) == 1
    assert seen[0].get("getUpdates", 0) >= 1
    assert seen[0].get("setMyCommands", 0) == 5  # every language's menu
