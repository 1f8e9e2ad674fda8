"""e2e flows shared by the tests: onboard staff through real invite links, file complaints as residents."""

from __future__ import annotations

import asyncio
import re

from bot.i18n import catalogues
from services import staff as staff_service

TICKET = re.compile(r"TS\d{8}-\d{4}")


async def wait_for(predicate, timeout: float = 15, interval: float = 0.1):
    """Poll an async predicate until it returns something truthy, or the timeout passes; its last
    value (generous timeouts, no timing asserts: the caller asserts on the value)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


async def handled(app, client, timeout: float = 10) -> None:
    """Wait until the bot has taken every update the sandbox holds and handled it (the poller
    confirms updates once it has them in hand and journaled, before they are handled)."""
    await client.settled(timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while app.poller.in_hand:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"updates still being handled after {timeout} s")
        await asyncio.sleep(0.02)


async def onboard(app, client, user_id: int, name: str, team: str | None, role: str = "staff"):
    """Create an invite like an admin would and open it as that Telegram user."""
    async with app.sessions() as session:
        await staff_service.seed_teams(session)
        person, code = await staff_service.create_invite(session, name=name, team_code=team, role=role,
                                                         now=app.clock())
    user = client.user(user_id, first_name=name)
    await user.send(f"/start {code}")
    welcome = await user.expect("欢迎")
    assert name in welcome.text
    user.staff_id = person.id
    return user


async def intake(user, description: str, location: str = "3栋1单元", *, anonymous: bool = False,
                 timeout: float = 10):
    """A resident's whole intake from idle; returns (the summary they confirmed, the ticket number)."""
    await user.send(description)
    await user.expect("在哪里", timeout)
    await user.send(location)
    await user.expect("联系方式", timeout)
    await user.tap(text("btn_anonymous") if anonymous else text("btn_share_phone"))
    summary = await user.expect("请确认", timeout)
    await user.press("确认提交", summary)
    receipt = await user.expect("工单号", timeout)
    return summary, TICKET.search(receipt.text).group(0)


async def file_complaint(user, description: str, location: str = "3栋1单元", *, anonymous: bool = False) -> str:
    """A resident's whole intake; returns the ticket number."""
    return (await intake(user, description, location, anonymous=anonymous))[1]


def text(key: str, locale: str = "zh_Hans", **params) -> str:
    """A message of the bot's catalogue, as a resident of that locale sees it."""
    return catalogues().text(key, locale=locale, **params)


async def resolve(worker, number: str, result: str, *, done: str = "已办结", cause: str = "third_party",
                  why: str = "供水管网检修，已协调", timeout: float = 10):
    """``/resolve``; a Ⅰ/Ⅱ ticket asks the cause first (services.procedure): answered with a cause
    that is not ours (no corrective action), in any language. Returns the confirmation."""
    await worker.send(f"/resolve {number} {result}")
    while True:
        message = await worker.next_message(timeout)
        if done in (message.text or ""):
            return message
        data = [d for d in message.button_data() if d and d.startswith("st:cau:") and d.endswith(f":{cause}")]
        if data:
            await worker.press_data(message.message_id, data[0], check=True)
            await worker.wait_edit(message)  # the question for the cause's text
            await worker.send(why)
