"""Dashboard: the /stats figures of this month and the last, and the monthly report to download."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.web.test_desk_flow import register


async def test_figures_of_this_month_and_the_report(console, people, sessions):
    await people.make("张师傅", "engineering")
    manager = await people.login(await people.make("刘经理", None, "manager", telegram=False))
    await register(manager)
    await register(manager, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")
    page = await manager.http.get("/dashboard")
    assert page.status_code == 200
    assert "2026-11" in page.text and "2026-10" in page.text and "工程管理" in page.text and "环境管理" in page.text
    assert (await manager.http.get("/dashboard", params={"month": "2026-13"})).status_code == 409


async def test_the_monthly_report_downloads(console, people, sessions):
    await people.make("张师傅", "engineering")
    manager = await people.login(await people.make("刘经理", None, "manager", telegram=False))
    await register(manager)
    download = await manager.http.get("/dashboard/report.xlsx", params={"month": "2026-11"})
    assert download.status_code == 200 and "2026-11" in download.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(download.content))
    assert workbook.sheetnames[0] == "汇总" and len(workbook.sheetnames) >= 3


async def test_staff_get_no_figures(console, people):
    staff = await people.login(await people.make("张师傅", "engineering"))
    refused = await staff.http.get("/dashboard")
    assert refused.status_code == 403
    assert (await staff.http.get("/dashboard/report.xlsx")).status_code == 403
