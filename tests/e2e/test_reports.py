"""Statistics and the monthly report in chat, the scheduled monthly send, and the report CLI."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, time

import pytest
from sqlmodel import select

from models.tables import ReportRun
from scheduler.reports import MonthlyReport
from services import stats
from tests.e2e.flows import file_complaint, onboard, resolve

pytestmark = pytest.mark.e2e


@pytest.fixture
async def office(bot_app, client):
    people = {
        "manager": await onboard(bot_app, client, 9951, "刘经理", None, "manager"),
        "supervisor": await onboard(bot_app, client, 9952, "王主管", "engineering", "supervisor"),
        "worker": await onboard(bot_app, client, 9953, "张师傅", "engineering"),
        "resident": client.user(6901, first_name="陈晨", phone="13812340000"),
    }
    number = await file_complaint(people["resident"], "3栋电梯坏了，一直没人修")
    await people["worker"].expect(number)
    await people["worker"].send(f"/accept {number}")
    await people["worker"].expect("已接单")
    await resolve(people["worker"], number, "已修复")  # Ⅱ: the cause is asked first
    people["number"] = number
    return people


class TestInChat:
    async def test_stats_for_manager_and_supervisor(self, office, bot_app):
        await office["manager"].send("/stats")
        figures = await office["manager"].expect("工程管理")
        assert "回访率" in figures.text and "及时率" in figures.text
        await office["supervisor"].send("/stats")
        assert "工程管理" in (await office["supervisor"].next_message()).text
        await office["manager"].send("/stats 2026-13")
        assert "月份格式" in (await office["manager"].next_message()).text

    async def test_report_arrives_as_a_document_with_charts(self, office, bot_app):
        month = stats.current_month(bot_app.settings.tz, bot_app.clock())
        await office["manager"].send(f"/report {month}")
        await office["manager"].expect("正在生成")
        document = await office["manager"].next_message(timeout=60)
        assert document.kind == "document" and month in (document.caption or "")
        photos = [await office["manager"].next_message(timeout=30) for _ in range(3)]
        assert [p.kind for p in photos] == ["photo", "photo", "photo"]

    async def test_refused_to_others(self, office):
        await office["worker"].send("/stats")
        assert "只有主管、经理和管理员" in (await office["worker"].next_message()).text
        await office["resident"].send("/report")
        assert "没有这个命令" in (await office["resident"].expect("没有这个命令")).text


class TestMonthlySend:
    # REPORT_REVIEW=false: sent at once (the review is tested in tests/e2e/test_majors.py)
    async def test_sent_once_per_month_even_across_restarts(self, office, bot_app):
        tz = bot_app.settings.tz
        month = stats.current_month(tz, bot_app.clock())
        first_of_next = datetime.combine(
            datetime.strptime(stats.next_month(month) + "-01", "%Y-%m-%d").date(), time(9, 30), tz)

        def job(clock) -> MonthlyReport:
            return MonthlyReport(bot_app.sessions, day=1, at=time(9, 0), tz=tz, clock=clock, review=False)

        assert await job(lambda: first_of_next).tick() == month
        document = await office["manager"].expect("月度投诉分析报告", timeout=60)
        assert document.kind in ("text", "document")
        assert await job(lambda: first_of_next).tick() is None
        restarted = job(lambda: first_of_next)
        assert await restarted.tick() is None
        async with bot_app.sessions() as session:
            [run] = (await session.exec(select(ReportRun))).all()
        assert run.sent_at is not None and run.recipients == 1
        before = datetime.combine(first_of_next.date(), time(8, 0), tz)
        assert job(lambda: before).due_month(before) is None


class TestReportCommand:
    async def test_cli_writes_the_workbook(self, office, bot_app, tmp_path):
        from openpyxl import load_workbook

        month = stats.current_month(bot_app.settings.tz, bot_app.clock())
        out = tmp_path / "report.xlsx"
        env = {**os.environ, "DATABASE_URL": bot_app.settings.database_url}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "report", "--month", month, "--out", str(out), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, stderr.decode()
        workbook = load_workbook(out)
        assert "汇总" in workbook.sheetnames and len(workbook.sheetnames) >= 6
        assert office["number"] in [cell.value for row in workbook["工单明细"].iter_rows() for cell in row]
        bad = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "report", "--month", "2026-13", "--out", str(out), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, error = await bad.communicate()
        assert bad.returncode == 2 and "YYYY-MM" in error.decode()
        english = tmp_path / "report-en.xlsx"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "report", "--month", month, "--out", str(english), "--lang", "en",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, stderr.decode()
        assert load_workbook(english).sheetnames[0] == "Summary"
