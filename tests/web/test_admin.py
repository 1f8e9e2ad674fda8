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


async def test_an_admin_moves_a_category_to_a_new_team_and_routing_follows(console, people, sessions):
    admin = await people.login(await people.make("系统管理员", None, "admin", telegram=False))
    made = await admin.form("/admin/teams", {"code": "lifts", "name": "电梯班", "categories": ["工程管理"]})
    assert made.status_code == 200 and "电梯班" in made.text
    async with sessions() as session:
        lifts = await staff_service.team_by_code(session, "lifts")
        engineering = await staff_service.team_by_code(session, "engineering")
    assert lifts.categories == ["工程管理"] and "工程管理" not in engineering.categories
    fixer = await people.make("李师傅", "lifts")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    response = await desk.form("/register", {"channel": "phone", "name": "陈阿姨", "phone": "13900001234",
                                             "location": "5栋", "description": "电梯坏了，门打不开"})
    async with sessions() as session:
        from sqlmodel import select

        from models.tables import Complaint

        complaint = (await session.exec(select(Complaint))).one()
    assert response.status_code == 303 and (complaint.team_id, complaint.assignee_id) == (lifts.id, fixer.id)
    bad = await admin.form("/admin/teams", {"code": "Lifts!", "name": "x"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


async def test_an_admin_edits_the_lexicon_and_the_classifier_uses_it_at_once(people, sessions, settings, tmp_path):
    import shutil

    from services.classify import Classifier, load_lexicon
    from services.classify.lexicon import DEFAULT_LEXICON_PATH

    copy = tmp_path / "lexicon.toml"
    shutil.copy(DEFAULT_LEXICON_PATH, copy)
    settings.lexicon_path = str(copy)
    # Its own classifier: the edit changes the classifier in place, the other tests share theirs.
    people.app.state.context.classifier = Classifier(load_lexicon(copy, overlay=False))
    admin = await people.login(await people.make("系统管理员", None, "admin", telegram=False))
    shown = await admin.http.get("/admin/lexicon", params={"target": "category:工程管理"})
    assert shown.status_code == 200 and "[category.&#34;工程管理&#34;.terms]" in shown.text
    tables = re.search(r'<textarea id="l-tables"[^>]*>(.*?)</textarea>', shown.text, re.S).group(1)
    import html

    tables = html.unescape(tables)
    wrong = await admin.form("/admin/lexicon", {"target": "category:工程管理", "try_text": "",
                                                "tables": tables.replace('"电梯" = 3.0', '"电梯" = heavy')})
    assert wrong.status_code == 422 and "词库有误" in wrong.text and "line" in wrong.text
    assert copy.read_text(encoding="utf-8") == DEFAULT_LEXICON_PATH.read_text(encoding="utf-8")
    saved = await admin.form("/admin/lexicon", {"target": "category:工程管理", "try_text": "小区喷泉坏了",
                                                "tables": tables.replace('"电梯" = 3.0', '"电梯" = 3.0\n"喷泉" = 3.0')})
    assert saved.status_code == 200 and "从下一条消息起生效" in saved.text
    assert '"喷泉" = 3.0' in copy.read_text(encoding="utf-8")
    assert '<span class="kw">喷泉</span>' in saved.text  # the try box classified with the new lexicon
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    suggestion = await desk.form("/register/suggest", {"description": "小区喷泉坏了"})
    assert '<span class="kw">喷泉</span>' in suggestion.text
    refused = await desk.http.get("/admin/lexicon")
    assert refused.status_code == 403
