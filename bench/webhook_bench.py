"""Benchmark: intake throughput in webhook mode with 1 and with 3 bot processes behind a balancer.

Usage::

    .venv/bin/python bench/webhook_bench.py                       # 1 and 3 processes, 40 residents
    .venv/bin/python bench/webhook_bench.py --processes 1,2,3 --residents 60

Each run: a fresh PostgreSQL schema (``--database``, default the ``bench`` database), an emptied
Redis database (``--redis``), the sandbox delivering by webhook through a round-robin balancer
(``sandbox.balancer``) to N ``python -m bot`` processes; every resident files one complaint (five
updates: description, location, contact, confirm …) at the same time. Prints intakes/s,
updates/s and the ratio against one process measured in the same run. On a machine with fewer
cores than processes the ratio shows the cost of coordination more than a gain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.db import create_engine, upgrade  # noqa: E402
from sandbox import SandboxClient, SandboxServer  # noqa: E402
from sandbox.balancer import Balancer  # noqa: E402
from tests.e2e.flows import intake  # noqa: E402

TOKEN = "7000000001:AAHsandboxTOKENsandboxTOKENsandbox12"
UPDATES_PER_INTAKE = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def reset(database: str, redis_url: str) -> None:
    engine = create_engine(database)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        await connection.exec_driver_sql("CREATE SCHEMA public")
    await engine.dispose()
    await upgrade(database)
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()


async def run_once(processes: int, residents: int, database: str, redis_url: str, workdir: Path) -> dict:
    await reset(database, redis_url)
    sandbox = SandboxServer()
    await sandbox.start()
    ports = [free_port() for _ in range(processes)]
    balancer = Balancer([f"http://127.0.0.1:{port}" for port in ports])
    front = await balancer.start()
    env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": sandbox.base_url, "DATABASE_URL": database,
           "REDIS_URL": redis_url, "WEBHOOK_URL": f"{front}/tg/hook", "WEBHOOK_SECRET": "bench-secret",
           "REPORT_DAY": "0", "DELIVERY_POLL": "0.3s", "RATE__PRIVATE_PER_SECOND": "50",
           "RATE__PRIVATE_BURST": "50", "RATE__OVERALL_PER_SECOND": "1000", "RATE__OVERALL_BURST": "200"}
    bots = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=workdir, env={**env, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL) for port in ports]
    client = SandboxClient(sandbox.base_url)
    await client.__aenter__()
    try:
        for port in ports:  # until every process listens
            for _ in range(600):
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        users = [client.user(70000 + i, first_name=f"住户{i}", phone=f"1370000{i:04d}") for i in range(residents)]
        await asyncio.gather(*(intake(u, "3栋的电梯坏了（预热）", "3栋1单元", timeout=120) for u in users[:2]))
        started = time.perf_counter()
        await asyncio.gather(*(intake(u, f"{i % 9 + 1}栋的电梯坏了（{i}）", f"{i % 9 + 1}栋1单元", timeout=300)
                               for i, u in enumerate(users)))
        elapsed = time.perf_counter() - started
    finally:
        for bot in bots:
            if bot.returncode is None:
                bot.terminate()
        await asyncio.gather(*(b.wait() for b in bots))
        await client.__aexit__(None, None, None)
        await balancer.stop()
        await sandbox.stop()
    return {"processes": processes, "residents": residents, "seconds": elapsed,
            "intakes_per_s": residents / elapsed, "updates_per_s": residents * UPDATES_PER_INTAKE / elapsed,
            "forwarded": sorted(balancer.forwarded.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,3", help="comma-separated process counts (default 1,3)")
    parser.add_argument("--residents", type=int, default=40, help="residents filing at once (default 40)")
    parser.add_argument("--database", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    args = parser.parse_args()
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "huifang-webhook-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    results = [asyncio.run(run_once(n, args.residents, args.database, args.redis, workdir)) for n in counts]
    base = results[0]["updates_per_s"]
    print(f"webhook intake, {args.residents} residents at once, PostgreSQL + Redis, {os.cpu_count()} cores")
    print(f"{'processes':>9}  {'seconds':>8}  {'intakes/s':>9}  {'updates/s':>9}  {'× first':>7}  forwarded")
    for r in results:
        print(f"{r['processes']:>9}  {r['seconds']:>8.2f}  {r['intakes_per_s']:>9.2f}  {r['updates_per_s']:>9.1f}  "
              f"{r['updates_per_s'] / base:>7.2f}  {r['forwarded']}")


if __name__ == "__main__":
    main()
