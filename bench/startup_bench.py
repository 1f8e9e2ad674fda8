"""Launch to first poll and idle memory of ``python -m bot`` against a minimal aiogram echo bot.

Run: ``python -m bench.startup_bench [--runs 3] [--idle 5] [--migrated]``

A Telegram sandbox (``sandbox.SandboxServer``) runs in this process. Each run launches, as a
fresh process, ``python -m bot`` (a new SQLite database in a temporary folder, so the launch
includes migrating it; scheduler and delivery running as in production) and then
``python -m bench.startup_bench --echo`` (aiogram's Dispatcher, one echo handler, aiogram's own
polling) against it, and measures from the spawn to the sandbox's first ``getUpdates`` call
from that process, then — ``--idle`` seconds later, nothing sent — the process's resident memory
(VmRSS from /proc). ``--migrated``: the database is migrated beforehand (``python -m bot db
upgrade``, not timed), i.e. an ordinary restart rather than a first launch. The console listens
on a free port (``WEB_PORT``) as in production. Printed: the median of each, and the ratios bot ÷ echo measured in the same
run. Figures only; nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "123456:BENCH-startup-token-00000"
ROOT = Path(__file__).parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def launch(server, client, command: list[str], env: dict[str, str], idle: float) -> tuple[float, float]:
    """Seconds from spawn to the first getUpdates, and RSS in MB after ``idle`` seconds."""
    server.reset()
    before = len(await client.calls("getUpdates"))
    started = time.perf_counter()
    inherited = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WEBHOOK_URL")}
    process = await asyncio.create_subprocess_exec(*command, env={**inherited, **env}, cwd=str(ROOT),
                                                   stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        while len(await client.calls("getUpdates")) <= before:
            if process.returncode is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            await asyncio.sleep(0.01)
        launched = time.perf_counter() - started
        await asyncio.sleep(idle)
        return launched, rss_mb(process.pid)
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def main(args) -> None:
    from sandbox import SandboxClient, SandboxServer

    server = SandboxServer()
    await server.start()
    results: dict[str, list[tuple[float, float]]] = {"bot": [], "echo": []}
    try:
        async with SandboxClient(server.base_url) as client:
            for _ in range(args.runs):
                folder = tempfile.mkdtemp(prefix="startup-bench-")
                bot_env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": server.base_url,
                           "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/huifang.db",
                           "POLLING_TIMEOUT": "5", "BOT_USERNAME": "huifang_bot", "WEB_PORT": str(free_port())}
                if args.migrated:
                    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env={**os.environ, **bot_env},
                                   cwd=str(ROOT), check=True, capture_output=True)
                results["bot"].append(await launch(server, client, [sys.executable, "-m", "bot"], bot_env,
                                                   args.idle))
                echo_env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": server.base_url}
                results["echo"].append(await launch(
                    server, client, [sys.executable, "-m", "bench.startup_bench", "--echo"], echo_env, args.idle))
                print(f"run: bot {results['bot'][-1][0]:.2f} s {results['bot'][-1][1]:.0f} MB | "
                      f"echo {results['echo'][-1][0]:.2f} s {results['echo'][-1][1]:.0f} MB", flush=True)
    finally:
        await server.stop()
    launch_bot = statistics.median(r[0] for r in results["bot"])
    launch_echo = statistics.median(r[0] for r in results["echo"])
    rss_bot = statistics.median(r[1] for r in results["bot"])
    rss_echo = statistics.median(r[1] for r in results["echo"])
    print(f"database: {'migrated beforehand' if args.migrated else 'new (migrated by the launch)'}")
    print(f"launch to first poll: bot {launch_bot:.2f} s, echo bot {launch_echo:.2f} s, "
          f"ratio {launch_bot / launch_echo:.2f}")
    print(f"idle RSS after {args.idle:g} s: bot {rss_bot:.0f} MB, echo bot {rss_echo:.0f} MB, "
          f"ratio {rss_bot / rss_echo:.2f}")


async def echo_main() -> None:
    """The minimal aiogram echo bot the figures are compared with."""
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(os.environ["BOT_TOKEN"],
              session=AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"])))
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    await dispatcher.start_polling(bot, polling_timeout=5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds after the first poll before RSS is read")
    parser.add_argument("--migrated", action="store_true", help="migrate the database before launching (not timed)")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(echo_main() if arguments.echo else main(arguments))
