"""Nothing lost on a crash: the bot process killed (SIGKILL) right after a resolve is committed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest
from sqlmodel import select

from models.db import create_engine, session_factory, upgrade
from models.tables import CallbackRound, Complaint, OutboxNotice
from models.types import utcnow
from services import staff as staff_service
from tests.e2e.conftest import TOKEN
from tests.e2e.flows import file_complaint, wait_for

pytestmark = pytest.mark.e2e


async def start_bot(env: dict, cwd) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=cwd, env=env,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def held_calls(client) -> int:
    return (await client.stats())["held_calls"]


async def test_killed_right_after_a_resolve_the_resident_still_gets_it_and_the_callback(sandbox, client, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        await staff_service.seed_teams(session)
        _, code = await staff_service.create_invite(session, name="张师傅", team_code="engineering", now=utcnow())
    env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox.base_url, "DATABASE_URL": url,
           "POLLING_TIMEOUT": "2", "REPORT_DAY": "0", "CALLBACK_SLOTS": "", "CALLBACK_DELAY": "1s",
           "CALLBACK_ANSWER_TIMEOUT": "1h", "SCHEDULER_TICK": "0.5s", "DELIVERY_LEASE": "2s",
           "RATE__PRIVATE_PER_SECOND": "50", "RATE__PRIVATE_BURST": "50", "WEB_PORT": "0"}
    bot = await start_bot(env, tmp_path)
    restarted = None
    try:
        worker = client.user(9701, first_name="张师傅")
        await worker.send(f"/start {code}")
        await worker.expect("欢迎", timeout=60)
        resident = client.user(5701, first_name="李雷", phone="13900001111")
        number = await file_complaint(resident, "5栋楼道的灯坏了")
        await worker.expect(number, timeout=20)
        await worker.send(f"/accept {number}")
        await worker.expect("已接单")
        await resident.expect("已由", timeout=20)  # accepted: the resident was told

        await client.hold_chat(resident.id)  # the resident's messages stall on the network …
        await worker.send(f"/resolve {number} 已更换灯管")
        # … until the bot is sending the resolution: the resolve is committed
        assert await wait_for(lambda: held_calls(client), timeout=10, interval=0.05) == 1
        bot.kill()  # SIGKILL: no clean-up of any kind
        await bot.wait()
        async with sessions() as session:
            complaint = (await session.exec(select(Complaint).where(Complaint.number == number))).one()
            rounds = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == complaint.id))).all()
            pending = (await session.exec(select(OutboxNotice).where(OutboxNotice.kind == "resolved"))).all()
        assert complaint.status == "resolved" and len(rounds) == 1  # the round was planned with the resolve
        assert [n.state for n in pending] == ["claimed"]  # in hand when the process died, not sent
        await client.hold_chat(resident.id, held=False)  # the dead process's call goes nowhere

        restarted = await start_bot(env, tmp_path)
        resolution = await resident.expect("已处理完毕", timeout=60)
        assert number in resolution.text and "已更换灯管" in resolution.text
        prompt = await resident.expect("满意度回访", timeout=30)
        assert number in prompt.text
        told = [m for m in await resident.messages() if "已处理完毕" in (m.text or "")]
        assert len(told) == 1  # delivered once: the killed process never got it out
    finally:
        for process in (bot, restarted):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGINT)
                await asyncio.wait_for(process.wait(), 60)
        await engine.dispose()


async def test_killed_with_an_update_in_hand_it_is_handled_after_the_restart_from_the_journal(sandbox, client, tmp_path):
    """The update was confirmed to Telegram (it is in the journal), so only the journal can bring it back."""
    from models.tables import PolledUpdate

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox.base_url, "DATABASE_URL": url,
           "POLLING_TIMEOUT": "2", "REPORT_DAY": "0", "CALLBACK_SLOTS": "", "WEB_PORT": "0",
           "RATE__PRIVATE_PER_SECOND": "50", "RATE__PRIVATE_BURST": "50"}
    bot = await start_bot(env, tmp_path)
    restarted = None
    try:
        resident = client.user(5702, first_name="韩梅梅", phone="13900002222")
        await resident.send("/start")
        await resident.expect("物业客服中心", timeout=60)
        await client.hold_chat(resident.id)  # the bot's answer stalls on the network …
        await resident.send("3栋电梯坏了，困在里面")
        assert await wait_for(lambda: held_calls(client), timeout=10, interval=0.05) == 1  # … while in hand
        await client.settled()  # confirmed to Telegram although not handled: Telegram will not send it again
        async with sessions() as session:
            kept = (await session.exec(select(PolledUpdate))).all()
        assert ["3栋电梯坏了" in row.body for row in kept][-1:] == [True]  # (/start may not have left it yet)
        bot.kill()  # SIGKILL
        await bot.wait()
        await client.hold_chat(resident.id, held=False)  # the dead process's call goes nowhere
        assert await client.pending_updates() == []

        restarted = await start_bot(env, tmp_path)
        await resident.expect("在哪里", timeout=60)  # handled from the journal
        await resident.send("3栋2单元")
        await resident.expect("联系方式")

        async def journal_empty() -> bool:
            async with sessions() as session:
                return not (await session.exec(select(PolledUpdate))).all()

        assert await wait_for(journal_empty, timeout=10)  # handled: out of the journal
    finally:
        await client.hold_chat(resident.id, held=False)
        for process in (bot, restarted):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGINT)
                await asyncio.wait_for(process.wait(), 60)
        await engine.dispose()
