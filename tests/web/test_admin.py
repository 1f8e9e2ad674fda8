"""Admin: invite staff with a link and its QR code, teams, the classifier on a sentence, settings."""

from __future__ import annotations

import re

from services import staff as staff_service


async def test_an_admin_invites_a_desk_agent_and_the_link_binds(console, people, sessions, settings, clock):
    settings.bot_username = "desk_bot"
    admin = await people.login(await people.make("系统管理员", None, "admin", telegram=False))
    page = await admin.http.get("/admin")
    assert page.status_code == 200 and "工程部" in page.text and "CALLBACK_SLOTS" in page.text
    assert "BOT_TOKEN" not in page.text and "DATABASE_URL" not in page.text  # no secrets shown
    made = await admin.form("/admin/invite", {"name": "前台小周", "team": "", "role": "desk"})
    assert made.status_code == 200 and "<svg" in made.text
    code = re.search(r"https://t\.me/desk_bot\?start=([A-Za-z0-9_-]+)", made.text).group(1)
    async with sessions() as session:
        person = await staff_service.redeem_invite(session, code, telegram_id=4242, chat_id=4242, now=clock())
    assert (person.name, person.role) == ("前台小周", "desk")
    tried = await admin.form("/admin/try", {"text": "小区垃圾桶满了很臭"})
    assert "环境管理" in tried.text
    bad = await admin.form("/admin/invite", {"name": "", "team": "", "role": "staff"})
    assert bad.status_code == 409


async def test_only_admins_reach_it(console, people):
    manager = await people.login(await people.make("刘经理", None, "manager", telegram=False))
    assert (await manager.http.get("/admin")).status_code == 403
    assert (await manager.form("/admin/invite", {"name": "x", "role": "admin"})).status_code == 403
