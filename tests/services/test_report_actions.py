"""The monthly workbook's 整改措施 sheet: corrective actions opened or closed in the month, with the
cause, the owner, the due date, the status and what was done, then the counts (both backends)."""

from __future__ import annotations

from openpyxl import load_workbook
from sqlmodel import select

from models.db import writing
from models.tables import Complaint, CorrectiveAction, Staff
from services.report import build_report
from tests.services.test_report import TEXT, rows
from tests.services.test_stats import AFTER, SH, L, seed


async def test_corrective_actions_sheet_lists_the_month_and_counts_opened_and_closed(sessions, tmp_path):
    async with sessions() as session:
        ids = await seed(session)
    async with sessions() as session, writing(session):
        wang = (await session.exec(select(Staff).where(Staff.name == "王师傅"))).one()
        for name, cause, text in (("T1", "equipment", "控制板老化"), ("T2", "process", "巡检漏项"),
                                  ("T3", "staff_conduct", "态度生硬")):
            complaint = await session.get(Complaint, ids[name])
            complaint.cause_category, complaint.cause_text = cause, text
            session.add(complaint)
        session.add_all([
            # opened and done in October
            CorrectiveAction(complaint_id=ids["T1"], description="全小区控制板排查", owner_id=wang.id,
                             created_at=L(10, 2, 10), due_at=L(10, 9, 18), status="done", done_at=L(10, 8, 15),
                             done_note="更换3台"),
            # opened in October, still open
            CorrectiveAction(complaint_id=ids["T2"], description="修订巡检表", owner_id=wang.id,
                             created_at=L(10, 20, 10), due_at=L(11, 5, 18)),
            # opened in September, done in October
            CorrectiveAction(complaint_id=ids["T3"], description="礼仪培训", owner_id=wang.id,
                             created_at=L(9, 20, 10), due_at=L(10, 10, 18), status="done", done_at=L(10, 3, 9),
                             done_note="全员培训一次"),
            # November: not in October's sheet
            CorrectiveAction(complaint_id=ids["T1"], description="十一月的措施", owner_id=wang.id,
                             created_at=L(11, 2, 10), due_at=L(11, 9, 18)),
        ])
        await session.commit()
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "r.xlsx", now=AFTER, text=TEXT)
    sheet = rows(load_workbook(files.xlsx)["整改措施"])
    assert sheet[0] == ("工单号", "分类", "原因类别", "原因说明", "整改措施", "负责人", "制定时间", "期限", "状态",
                        "完成时间", "完成情况")
    body = {r[4]: r for r in sheet[1:] if r and r[0] and r[0].startswith("TS")}
    assert set(body) == {"全小区控制板排查", "修订巡检表", "礼仪培训"}
    first = body["全小区控制板排查"]
    assert first[2:4] == ("设施设备", "控制板老化") and first[5] == "王师傅"
    assert (first[8], first[10]) == ("已完成", "更换3台") and first[9] is not None
    assert body["修订巡检表"][8] == "未完成" and body["修订巡检表"][10] in ("", None)
    assert body["礼仪培训"][2] == "员工行为" and body["礼仪培训"][10] == "全员培训一次"
    counts = {r[0]: r[1] for r in sheet if r and r[0] in ("本月新增整改", "本月完成整改", "月末仍未完成")}
    assert counts == {"本月新增整改": 2, "本月完成整改": 2, "月末仍未完成": 1}
