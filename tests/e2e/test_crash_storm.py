"""Nothing lost under fire: the bot (a subprocess on PostgreSQL) is killed with SIGKILL at 50 random
moments while residents file complaints, a worker accepts and resolves them and residents rate
the callbacks; it is restarted at once each time.

At the end every confirmed intake has exactly one ticket, every resolved ticket has its callback
round, every notice in the outbox went out, and no resident was sent the same resolution or
callback prompt more than twice (at-least-once, with the duplicate bounded). The moments are
drawn from a seeded random generator (``CRASH_SEED`` to try another storm), so a failure can be
replayed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter

import pytest
from sqlmodel import select

from models.db import create_engine, session_factory, upgrade
from models.tables import CallbackRound, Complaint, ComplaintEvent, OutboxNotice
from models.types import utcnow
from services import staff as staff_service
from tests.conftest import POSTGRES_URL, require_service, reset_postgres
from tests.e2e.conftest import TOKEN
from tests.e2e.flows import intake

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
KILLS = 50
RESIDENTS = 6
SEED = int(os.environ.get("CRASH_SEED", "20261202"))


async def start_bot(env: dict, cwd) -> asyncio.subprocess.Process:
    """Start ``python -m bot``; its log goes to ``bot-N.log`` in ``cwd`` (one file per start)."""
    log_path = cwd / f"bot-{len(list(cwd.glob('bot-*.log'))):02d}.log"
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=cwd, env=env,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=log)


def failures_logged(cwd) -> str:
    """The tracebacks the bot processes logged, to read when the storm fails."""
    found = []
    for path in sorted(cwd.glob("bot-*.log")):
        text = path.read_text(errors="replace")
        if "Traceback" in text:
            found.append(f"--- {path.name}\n" + text[max(0, text.index("Traceback") - 300):][:4000])
    return "\n".join(found)


async def test_fifty_kills_lose_nothing(sandbox, client, tmp_path):
    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    await upgrade(POSTGRES_URL)
    engine = create_engine(POSTGRES_URL)
    sessions = session_factory(engine)
    async with sessions() as session:
        await staff_service.seed_teams(session)
        _, code = await staff_service.create_invite(session, name="张师傅", team_code="engineering", now=utcnow())
    env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox.base_url, "DATABASE_URL": POSTGRES_URL,
           "POLLING_TIMEOUT": "1", "REPORT_DAY": "0", "CALLBACK_SLOTS": "", "CALLBACK_DELAY": "1s",
           "CALLBACK_ANSWER_TIMEOUT": "1h", "SCHEDULER_TICK": "0.5s", "DELIVERY_LEASE": "2s",
           "DELIVERY_POLL": "0.3s", "RATE__PRIVATE_PER_SECOND": "50", "RATE__PRIVATE_BURST": "50",
           "WEB_PORT": "0"}  # the bot under fire, not the console (port 8080 may be taken on the host)
    env.pop("REDIS_URL", None)
    rng = random.Random(SEED)
    state = {"bot": await start_bot(env, tmp_path), "kills": 0}
    storm_over = asyncio.Event()
    confirmed: list[tuple[int, str]] = []
    rated: list[str] = []

    async def storm() -> None:
        """Kill the bot at random moments and start it again at once."""
        while state["kills"] < KILLS:
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            bot = state["bot"]
            bot.kill()
            await bot.wait()
            state["kills"] += 1
            state["bot"] = await start_bot(env, tmp_path)
        storm_over.set()

    worker = client.user(9801, first_name="张师傅")

    async def work() -> None:
        """The worker accepts and resolves whatever is assigned to them, again if a command got lost."""
        asked: dict[tuple[str, str], float] = {}
        loop = asyncio.get_running_loop()
        while True:
            async with sessions() as session:
                tickets = (await session.exec(select(Complaint).where(
                    Complaint.status.in_(("assigned", "accepted"))))).all()
            for ticket in tickets:
                command = (f"/accept {ticket.number}" if ticket.status == "assigned"
                           else f"/resolve {ticket.number} 已更换灯管")
                if loop.time() - asked.get((ticket.number, ticket.status), -1e9) > 8:
                    asked[(ticket.number, ticket.status)] = loop.time()
                    await worker.send(command)
            await asyncio.sleep(0.3)

    async def live(user, index: int) -> None:
        """File a complaint, wait for its callback prompt, rate it; again until the storm is over."""
        cycle = 0
        while not storm_over.is_set():
            cycle += 1
            _summary, number = await intake(user, f"{index + 1}栋楼道的灯坏了（第{cycle}次）", f"{index + 1}栋",
                                            timeout=120)
            confirmed.append((user.id, number))
            while True:
                prompt = await user.expect("满意度回访", timeout=180)
                if number in prompt.text:
                    break
            await user.press("5 非常满意", prompt)
            await user.expect("感谢", timeout=120)
            rated.append(number)

    try:
        await worker.send(f"/start {code}")
        await worker.expect("欢迎", timeout=120)
        residents = [client.user(5800 + i, first_name=f"住户{i}", phone=f"1390000{i:04d}") for i in range(RESIDENTS)]
        worker_task = asyncio.create_task(work())
        storm_task = asyncio.create_task(storm())
        await asyncio.wait_for(asyncio.gather(storm_task, *(live(r, i) for i, r in enumerate(residents))), 900)
        worker_task.cancel()

        # The last process runs undisturbed until the outbox is empty.
        for _ in range(600):
            async with sessions() as session:
                waiting = (await session.exec(select(OutboxNotice).where(OutboxNotice.state != "sent"))).all()
            if not waiting:
                break
            await asyncio.sleep(0.2)
        assert state["kills"] == KILLS
        assert waiting == []  # no notice lost

        async with sessions() as session:
            tickets = (await session.exec(select(Complaint))).all()
            resolved_ids = {e.complaint_id for e in (await session.exec(
                select(ComplaintEvent).where(ComplaintEvent.to_status == "resolved"))).all()}
            rounds = {r.complaint_id for r in (await session.exec(select(CallbackRound))).all()}
        # Every confirmed intake has exactly one ticket, and there is no ticket nobody confirmed.
        assert len(confirmed) >= RESIDENTS
        assert sorted(t.number for t in tickets) == sorted(number for _, number in confirmed)
        by_resident = Counter((t.resident_id, t.description) for t in tickets)
        assert max(by_resident.values()) == 1
        assert resolved_ids and resolved_ids <= rounds  # every resolved ticket has its callback round
        assert set(rated) <= {t.number for t in tickets if t.status == "closed"}

        print(f"crash storm (seed {SEED}): {state['kills']} kills, {len(confirmed)} intakes, "
              f"{len(resolved_ids)} resolved, {len(rated)} rated")
        # At least once, at most twice: the resolution and the prompt per ticket and resident.
        for user in residents:
            texts = [m.text or "" for m in await user.messages()]
            for _, number in (c for c in confirmed if c[0] == user.id):
                told = sum(1 for t in texts if number in t and "已处理完毕" in t)
                prompts = sum(1 for t in texts if number in t and "满意度回访" in t)
                assert 1 <= told <= 2, (number, told)
                assert 1 <= prompts <= 2, (number, prompts)
    except BaseException:
        print(failures_logged(tmp_path))
        raise
    finally:
        bot = state["bot"]
        if bot.returncode is None:
            bot.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(bot.wait(), 60)
            except TimeoutError:
                bot.kill()
        await engine.dispose()
