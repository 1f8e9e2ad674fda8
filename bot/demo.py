"""``python -m bot demo``: the sandbox and the bot in one process, a resident filing a complaint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import tomllib
from pathlib import Path
from typing import TextIO

from bot.i18n import catalogues
from bot.app import HuifangApp
from bot.settings import Settings
from sandbox import SandboxClient, SandboxServer

DEMO_TOKEN = "123456:DEMO-sandbox-token"
SCRIPT = tomllib.loads((Path(__file__).with_name("demo.toml")).read_text(encoding="utf-8"))


async def run_demo(*, out: TextIO, interactive: bool = False) -> int:
    """Play a resident through the whole intake and print the conversation; 0 on success."""
    logging.basicConfig(level=logging.WARNING)
    server = SandboxServer()
    base_url = await server.start()
    with tempfile.TemporaryDirectory(prefix="huifang-demo-") as folder:
        settings = Settings(
            bot_token=DEMO_TOKEN,
            telegram_api_base=base_url,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}",
            polling_timeout=10,
            web_port=0,  # the demo plays the bot; the console is `make run`'s
            _env_file=None,
        )
        app = HuifangApp(settings)
        await app.start()
        try:
            if interactive:
                out.write(f"sandbox at {base_url}, bot running; control API under {base_url}/control — Ctrl-C to stop\n")
                out.flush()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
                return 0
            async with SandboxClient(base_url) as client:
                number = await play_resident(client)
                out.write("=== Huifang demo: a resident reports a complaint (sandbox transcript) ===\n\n")
                resident = client.user(10001, first_name=SCRIPT["resident"])
                out.write(await resident.transcript_text(user_label=SCRIPT["user_label"], bot_label=SCRIPT["bot_label"]))
                out.write(f"\n\n=== ticket {number} ===\n")
            return 0
        finally:
            await app.stop()
            await server.stop()


async def play_resident(client: SandboxClient) -> str:
    """The script: start, describe, say where, share the phone, confirm, look the ticket up."""
    def text(key: str) -> str:
        return catalogues().text(key, locale="zh_Hans")

    resident = client.user(10001, first_name=SCRIPT["resident"], phone=SCRIPT["phone"])
    await resident.send("/start")
    await resident.next_message()
    await resident.press(text("btn_new"))
    await resident.next_message()  # describe the problem
    await resident.send(SCRIPT["description"])
    await resident.next_message()  # where?
    await resident.send(SCRIPT["location"])
    await resident.next_message()  # contact?
    await resident.tap(text("btn_share_phone"))
    await resident.next_message()  # the contact, repeated
    summary = await resident.next_message()
    await resident.press(text("btn_submit"), summary)
    receipt = await resident.next_message()
    number = re.search(r"TS\d{8}-\d{4,}", receipt.text).group(0)
    await resident.send(f"/status {number}")
    await resident.expect(number)
    return number
