"""The console as processes run it: `python -m bot staff login` prints a working link on its last
line, `python -m bot web` serves the console alone, `python -m bot` serves it beside the bot."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import httpx
import pytest

from sandbox import SandboxServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def run(*args, env, cwd):
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    return process.returncode, stdout.decode(), stderr.decode()


async def wait_healthy(url: str, process) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if process.returncode is not None:
                break
            try:
                return await http.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError("the console never answered")


async def test_staff_login_prints_a_link_that_python_m_bot_web_accepts_once(sqlite_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "WEB_PORT": str(port), "BOT_USERNAME": "desk_bot"}
    code, out, err = await run("staff", "invite", "--name", "前台小李", "--role", "desk", env=env, cwd=tmp_path)
    assert code == 0, err
    code, out, err = await run("staff", "login", "前台小李", env=env, cwd=tmp_path)
    assert code == 0, err
    link = out.strip().splitlines()[-1]
    assert link.startswith(f"http://127.0.0.1:{port}/login/")
    code, _out, err = await run("staff", "login", "nobody", env=env, cwd=tmp_path)
    assert code == 2 and "nobody" in err

    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "web", cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        health = await wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert health.status_code == 200
        async with httpx.AsyncClient() as http:
            signed_in = await http.post(link)
            assert signed_in.status_code == 303 and "huifang_session" in signed_in.headers["set-cookie"]
            board = await http.get(f"http://127.0.0.1:{port}/")  # the client keeps the session cookie
            assert board.status_code == 200 and "前台小李" in board.text
            assert (await http.post(link)).status_code == 403  # once only
            static = await http.get(f"http://127.0.0.1:{port}/static/htmx.min.js")
            assert static.status_code == 200 and "htmx" in static.text[:200]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]


@pytest.mark.e2e
async def test_python_m_bot_serves_the_console_beside_the_bot(tmp_path):
    server = SandboxServer()
    base = await server.start()
    port = free_port()
    env = {**os.environ, "BOT_TOKEN": "123456:TEST-sandbox-token", "TELEGRAM_API_BASE": base,
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "POLLING_TIMEOUT": "2", "REPORT_DAY": "0",
           "WEB_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        health = await wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert health.status_code == 200 and health.json() == {"ok": True}
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        await server.stop()
    assert process.returncode == 0, stderr.decode()[-2000:]
