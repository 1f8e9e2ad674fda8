"""Issue 13 (part B) in a real headless Chromium with the bot polling the sandbox: a manager sees
the major complaint they own on the board and the ticket page and replies to the resident from
the console (the resident gets it in Telegram), writes an early warning, and reviews the monthly
report draft (analysis summary, approve) — after which the report arrives in Telegram."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
from sqlmodel import select

from models.tables import EarlyWarning, ReportRun
from scheduler.reports import MonthlyReport
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard
from tests.e2e.test_console import browser, free_port, login_by_web_command, shot  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


async def test_manager_owns_a_major_warns_and_approves_the_report(sandbox, client, sqlite_url, classifier,
                                                                  browser, tmp_path):  # noqa: F811
    port = free_port()
    settings = make_settings(sandbox, sqlite_url, web_port=port, callback_slots="", scheduler_tick="1h")
    async with running_app(settings, classifier, with_scheduler=False) as app:
        await onboard(app, client, 6201, "张师傅", "engineering")
        manager = await onboard(app, client, 6202, "刘经理", None, role="manager")
        resident = client.user(6203, first_name="周九", phone="13500009999")
        number = await file_complaint(resident, "电梯坏了一个月没人修，再不修我就去法院起诉物业")
        await manager.expect("您是负责人", timeout=15)
        context = await browser.new_context(base_url=f"http://127.0.0.1:{port}", locale="zh-CN",
                                            viewport={"width": 1280, "height": 900})
        try:
            page = await login_by_web_command(manager, context)
            row = page.locator("tr").filter(has_text=number)
            assert "负责人: 刘经理" in await row.inner_text()

            await page.goto(f"/tickets/{number}")
            assert await page.locator("dd.major-owner").inner_text() == "刘经理"
            await page.get_by_label("答复住户（发送给该事项的所有住户）").fill("已联系电梯厂家，周三前修复，深表歉意")
            await page.get_by_role("button", name="发送答复").click()
            await page.wait_for_url(re.compile(rf"/tickets/{number}$"))
            assert "已答复" in await page.locator("dl.fields").first.inner_text()
            reply = await resident.expect("客服经理答复", timeout=15)
            assert number in reply.text and "周三前修复" in reply.text
            await shot(page, tmp_path, "major")

            await page.get_by_role("link", name="投诉预警").click()
            await page.get_by_label("事项").fill("5栋电梯近期多次停运，可能引发群诉")
            await page.get_by_label("对住户的解释口径").fill("已联系厂家，周三前更换主板")
            await page.get_by_label("已通知").fill("楼长、业委会")
            await page.get_by_role("button", name="记录预警").click()
            await page.wait_for_url(re.compile(r"/warnings\?saved=1$"))
            assert "5栋电梯近期多次停运" in await page.locator("table.warnings").inner_text()
            async with app.sessions() as session:
                assert len((await session.exec(select(EarlyWarning))).all()) == 1

            pinned = datetime.combine(datetime(2026, 12, 1).date(), time(9, 30), app.settings.tz)
            job = MonthlyReport(app.sessions, day=1, at=time(9, 0), tz=app.settings.tz, clock=lambda: pinned)
            assert await job.tick() == "2026-11"
            await manager.expect("草稿", timeout=60)
            await page.get_by_role("link", name="统计").click()
            draft = page.locator("form.report-draft")
            assert "待审核：2026-11" in await draft.inner_text()
            await draft.get_by_label("管理层分析（原因分析 / 整改措施）").fill("原因：电梯老化。整改：12月更换主板。")
            await draft.get_by_role("button", name="批准并发送").click()
            await page.wait_for_url(re.compile(r"/dashboard\?approved=2026-11$"))
            assert await page.get_by_text("2026-11 报告已批准并发送").is_visible()
            sent = await manager.expect("请查收", timeout=60)
            assert "2026-11" in sent.text
            async with app.sessions() as session:
                run = await session.get(ReportRun, "2026-11")
            assert (run.status, run.summary) == ("sent", "原因：电梯老化。整改：12月更换主板。")
        finally:
            await context.close()
