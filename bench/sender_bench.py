"""Benchmark: messages/s the rate-limited Sender achieves against the sandbox with flood limits on.

Usage::

    .venv/bin/python bench/sender_bench.py                 # N=200 and N=1000 over 50 chats
    .venv/bin/python bench/sender_bench.py -n 300 -k 10    # custom sizes

Prints throughput, delivered count and how many 429s the sandbox returned (should be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot  # noqa: E402
from aiogram.client.default import DefaultBotProperties  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.enums import ParseMode  # noqa: E402

from bot.sender import Sender, install_rate_limiter  # noqa: E402
from sandbox import SandboxClient, SandboxServer  # noqa: E402

TOKEN = "7000000001:AAHsandboxTOKENsandboxTOKENsandbox12"


async def run_once(n: int, chats: int) -> dict[str, float | int]:
    """Send ``n`` messages round-robin over ``chats`` private chats; return the figures."""
    server = SandboxServer(rate_limits=True)
    await server.start()
    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    middleware = install_rate_limiter(bot)
    try:
        async with SandboxClient(server.base_url) as client:
            users = list(range(900_001, 900_001 + chats))
            await asyncio.gather(*(client.user(uid, f"U{uid}").send("/start") for uid in users))
            sender = Sender(bot)
            started = time.perf_counter()
            results = await asyncio.gather(
                *(sender.send_text(users[i % chats], f"ping {i}") for i in range(n))
            )
            elapsed = time.perf_counter() - started
            stats = await client.stats()
    finally:
        await bot.session.close()
        await server.stop()
    return {
        "n": n,
        "chats": chats,
        "seconds": elapsed,
        "per_second": n / elapsed,
        "delivered": sum(r.ok for r in results),
        "sandbox_429": stats["retry_after_returned"],
        "retried_429": middleware.retried_429,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="messages per run (repeatable)")
    parser.add_argument("-k", "--chats", type=int, default=50, help="number of private chats")
    args = parser.parse_args()
    for n in args.n or [200, 1000]:
        r = await run_once(n, args.chats)
        print(
            f"N={r['n']:>5} K={r['chats']:>4}: {r['seconds']:6.2f}s  {r['per_second']:5.1f} msg/s  "
            f"delivered={r['delivered']}/{r['n']}  429s from sandbox={r['sandbox_429']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
