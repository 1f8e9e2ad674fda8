"""Scale-out: three bot processes in webhook mode behind a load balancer, one PostgreSQL, one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import func, select

from models.db import create_engine, session_factory, upgrade
from models.tables import Complaint, OutboxNotice
from models.types import utcnow
from sandbox import SandboxClient
from services import staff as staff_service
from tests.conftest import POSTGRES_URL, require_service, reset_postgres
from sandbox.balancer import Balancer
from tests.e2e.conftest import TOKEN
from tests.e2e.flows import intake, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "hook-secret-42"
PROCESSES = 3
RESIDENTS = 60
STAFF = 10
PINGS = 300
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def cluster(tmp_path, redis_url):
    """Sandbox with Telegram's flood limits, a balancer, three bot processes on one PostgreSQL and Redis."""
    require_service("postgres", POSTGRES_URL, 5432)
    await reset_postgres(POSTGRES_URL)
    await upgrade(POSTGRES_URL)
    async with contextlib.AsyncExitStack() as stack:  # whatever started is stopped, even if a later start fails
        # The sandbox in a process of its own: it times each send when it reads it, and in the test's
        # process the test's own work (the balancer, the database reads) could delay those reads so
        # that sends the bot processes spaced correctly would look like a flood.
        sandbox = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox", "--port", "0", "--rate-limits", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        stack.push_async_callback(_stop, [sandbox])
        first_line = (await asyncio.wait_for(sandbox.stdout.readline(), 120)).decode()
        assert first_line.startswith("Telegram sandbox listening on "), first_line
        sandbox_url = first_line.split()[-1]
        ports = [free_port() for _ in range(PROCESSES)]
        balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports])
        front = await balancer.start()
        stack.push_async_callback(balancer.stop)
        env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox_url, "DATABASE_URL": POSTGRES_URL,
               "REDIS_URL": redis_url, "WEBHOOK_URL": f"{front}/tg/hook", "WEBHOOK_SECRET": SECRET,
               "WEBHOOK_CLAIM_LEASE": "30s", "REPORT_DAY": "0", "DELIVERY_POLL": "0.3s", "LOG_FORMAT": "json",
               "WEB_PORT": "0"}  # three processes on one host: no web console (it would bind one port three times)
        processes = []
        stack.push_async_callback(_stop, processes)
        for port in ports:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=tmp_path, env={**env, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"},
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
        client = await stack.enter_async_context(SandboxClient(sandbox_url))
        for _ in range(1800):  # until every process answers its health check (start-up is slow on a busy machine)
            up = 0
            for port in ports:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    up += 1
                except OSError:
                    pass
            if up == PROCESSES:
                break
            await asyncio.sleep(0.1)
        yield {"client": client, "balancer": balancer, "processes": processes, "front": front}


async def _stop(processes: list[asyncio.subprocess.Process]) -> None:
    """Terminate the processes still running and wait for all of them."""
    for process in processes:
        if process.returncode is None:
            process.terminate()
    await asyncio.gather(*(process.wait() for process in processes))


async def test_three_processes_behind_a_balancer(cluster):
    client, balancer, processes = cluster["client"], cluster["balancer"], cluster["processes"]
    engine = create_engine(POSTGRES_URL)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            await staff_service.seed_teams(session)
            codes = [(await staff_service.create_invite(session, name=f"工程{i}", team_code="engineering",
                                                        now=utcnow()))[1] for i in range(STAFF)]
        workers = [client.user(40000 + i, first_name=f"工程{i}") for i in range(STAFF)]
        for worker, code in zip(workers, codes):
            await worker.send(f"/start {code}")
        for worker in workers:
            await worker.expect("欢迎", timeout=60)

        # 60 residents file at once; one process is killed half-way through.
        residents = [client.user(50000 + i, first_name=f"住户{i}", phone=f"1390000{i:04d}") for i in range(RESIDENTS)]

        async def kill_one_midway() -> None:
            await asyncio.sleep(3)
            processes[1].kill()

        results = await asyncio.gather(*(intake(r, f"{i % 9 + 1}栋的电梯坏了（{i}）", f"{i % 9 + 1}栋1单元", timeout=90)
                                         for i, r in enumerate(residents)), kill_one_midway())
        numbers = [number for _summary, number in results[:-1]]
        assert len(set(numbers)) == RESIDENTS
        async with sessions() as session:
            tickets = (await session.exec(select(Complaint))).all()
        assert sorted(t.number for t in tickets) == sorted(numbers)  # each intake exactly one ticket
        assert Counter(t.resident_id for t in tickets).most_common(1)[0][1] == 1

        # Telegram retries deliveries: the same updates again change nothing.
        before = {r.id: len(await r.messages()) for r in residents[-10:]}
        redelivered = await client.redeliver(40)

        async def none_pending() -> bool:
            return (await client.stats())["pending_updates"] == 0

        await wait_for(none_pending, timeout=10, interval=0.05)
        await asyncio.sleep(1)
        assert len(redelivered) == 40
        async with sessions() as session:
            assert len((await session.exec(select(Complaint))).all()) == RESIDENTS
        assert {r.id: len(await r.messages()) for r in residents[-10:]} == before

        # 300 pings across the processes: one global send rate, no 429.
        statistics = await client.stats()
        errors_before = statistics["retry_after_returned"]
        calls_before = len(await client.calls("sendMessage"))
        # Filed by a process of its own too, so the filing does not compete with the balancer or
        # the processes for this process's loop.
        filing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.e2e.ping_burst", POSTGRES_URL, str(PINGS), cwd=ROOT)
        assert await filing.wait() == 0

        async def all_sent() -> bool:
            async with sessions() as session:
                # A count, not the rows: the test process stays light while the processes send.
                return not (await session.exec(
                    select(func.count()).select_from(OutboxNotice).where(OutboxNotice.state != "sent"))).one()

        assert await wait_for(all_sent, timeout=120)
        calls = (await client.calls("sendMessage"))[calls_before:]
        # None during the burst (429s met while 60 residents race through intake are honoured and retried)
        assert (await client.stats())["retry_after_returned"] == errors_before, _refused_with_context(calls)
        times = sorted(call["time"] for call in calls if call.get("ok"))
        busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
        assert busiest <= 30  # ≤ 30 messages in any second, all processes together
        per_chat = Counter()
        for call in calls:
            per_chat[str(call["params"].get("chat_id"))] += 1
        assert sum(per_chat.values()) >= PINGS
        served = [count for count in balancer.forwarded.values() if count]
        assert len(served) == PROCESSES  # every process took part
    finally:
        await engine.dispose()


def _refused_with_context(calls: list[dict]) -> list:
    """Each 429 of the burst with the same chat's calls of the 3 s before it (to tell a stalled process
    from a missing shared limit, should this ever fail)."""
    refused = [call for call in calls if call.get("error_code") == 429]
    return [(call["params"].get("chat_id"), round(call["time"], 3),
             [(round(other["time"] - call["time"], 3), other.get("ok")) for other in calls
              if other["params"].get("chat_id") == call["params"].get("chat_id")
              and call["time"] - 3 <= other["time"] < call["time"]])
            for call in refused]
