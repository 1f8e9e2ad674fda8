"""``python -m sandbox`` runs the server standalone until interrupted."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


class TestCli:
    async def test_serves_and_stops_on_sigint(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sandbox", "--port", "0",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            base_url = line.strip().rsplit(" ", 1)[-1]
            assert base_url.startswith("http://127.0.0.1:")
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base_url}/bot1:x/getMe") as resp:
                    assert (await resp.json())["result"]["username"] == "huifang_bot"
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
