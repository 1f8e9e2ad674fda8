"""Fixtures for sandbox tests: a running SandboxServer, a real aiogram Bot, a control client."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from sandbox import SandboxClient, SandboxServer

TOKEN = "7000000001:AAHsandboxTOKENsandboxTOKENsandbox12"


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    """A sandbox server on a free port."""
    srv = SandboxServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    """A real aiogram Bot pointed at the sandbox."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


@pytest.fixture
async def bot(server: SandboxServer) -> AsyncIterator[Bot]:
    """aiogram Bot talking to ``server``."""
    b = make_bot(server.base_url)
    try:
        yield b
    finally:
        await b.session.close()


@pytest.fixture
async def sb(server: SandboxServer) -> AsyncIterator[SandboxClient]:
    """Control API client for ``server``."""
    async with SandboxClient(server.base_url) as client:
        yield client


@asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot) -> AsyncIterator[None]:
    """Run ``dp.start_polling`` in a task for the duration of the block."""
    started = asyncio.Event()

    async def on_startup() -> None:
        started.set()

    dp.startup.register(on_startup)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield
    finally:
        if started.is_set():
            await dp.stop_polling()
        await asyncio.wait_for(task, 10)
