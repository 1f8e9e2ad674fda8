"""``python -m bot demo``: the sandbox and the bot in one process, a resident filing a complaint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
from pathlib import Path
from typing import TextIO

from bot.i18n import catalogues
from bot.app import HuifangApp
from bot.settings import Settings
from sandbox import SandboxClient, SandboxServer

DEMO_TOKEN = "123456:DEMO-sandbox-token"


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
                resident = client.user(10001, first_name="王芳")
                out.write(await resident.transcript_text(user_label="住户 王芳", bot_label="回访机器人"))
                out.write(f"\n\n=== ticket {number} ===\n")
            return 0
        finally:
            await app.stop()
            await server.stop()


async def play_resident(client: SandboxClient) -> str:
    """The script: start, describe with a photo, say where, share the phone, confirm, look up."""
    resident = client.user(10001, first_name="王芳", phone="13812345678")
    await resident.send("/start")
    await resident.next_message()
    await resident.press("投诉报事")
    await resident.expect("请描述")
    await resident.send("3栋1单元的电梯又坏了，停在8楼不动，已经两天没人修，老人上下楼很不方便。")
    await resident.expect("在哪里")
    await resident.send("3栋1单元 电梯厅")
    await resident.expect("联系方式")
    await resident.tap(catalogues().text("btn_share_phone", locale="zh_Hans"))
    summary = await resident.expect("请确认")
    await resident.press("确认提交", summary)
    receipt = await resident.expect("工单号")
    number = re.search(r"TS\d{8}-\d{4,}", receipt.text).group(0)
    await resident.send(f"/status {number}")
    await resident.expect(number)
    return number
