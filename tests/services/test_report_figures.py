"""The report's new figures and sheets on the seeded October of ``test_stats`` (both backends):
有效/无效投诉, by channel and kind, average resolution time by severity, reopen rate, the majors
with their owner and outcome, and the reviewed analysis on the first sheet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import select

from bot.i18n import catalogues
from models.tables import Complaint, ReportRun, Staff
from services.report import build_report
from tests.services.test_report import by_first, rows
from tests.services.test_stats import AFTER, ENV, SH, L, seed

TEXT = catalogues().text
ANALYSIS = "原因：电梯主板老化，雨季地下室漏水。整改：11月完成3台电梯主板更换，排水沟清淤。"


async def seed_more(session) -> dict[str, int]:
    """The October of test_stats, plus: T3 a suggestion, T9 an inquiry, T4 filed by phone, one
    invalid ticket, T8 a major owned by a manager and replied late, and the approved analysis."""
    ids = await seed(session)
    manager = Staff(name="刘经理", role="manager")
    session.add(manager)
    await session.flush()
    t8 = await session.get(Complaint, ids["T8"])
    session.add(Complaint(number="TS20261015-0099", description="不是物业的事", location="1栋", resident_id=t8.resident_id,
                          category=ENV, kind="投诉", severity="general", status="invalid", channel="phone",
                          created_at=L(10, 15, 9), updated_at=L(10, 15, 9)))
    await session.exec(update(Complaint).where(Complaint.id == ids["T3"]).values(kind="建议"))
    await session.exec(update(Complaint).where(Complaint.id == ids["T9"]).values(kind="咨询"))
    await session.exec(update(Complaint).where(Complaint.id == ids["T4"]).values(channel="phone"))
    await session.exec(update(Complaint).where(Complaint.id == ids["T8"]).values(
        major_owner_id=manager.id, major_at=L(10, 20, 9), major_reply_by=L(10, 20, 9) + timedelta(hours=2),
        major_replied_at=L(10, 20, 12), major_resolve_by=L(10, 30, 9)))
    session.add(ReportRun(month="2026-10", status="sent", summary=ANALYSIS, sent_at=AFTER))
    await session.commit()
    return ids


@pytest.fixture
async def workbook(sessions, tmp_path):
    async with sessions() as session:
        await seed_more(session)
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "2026-10.xlsx", now=AFTER,
                                   text=TEXT)
    return load_workbook(files.xlsx)


async def test_figures_sheet(workbook):
    figures = rows(workbook["专项指标"])
    assert figures[0] == ("指标", "数值", "占比")
    f = {r[0].strip("\u3000"): r[1:] for r in figures[1:] if r and r[0]}
    assert f["有效投诉"][0] == 9 and f["无效投诉"][0] == 1
    # valid by channel: T4 by phone, the rest in Telegram (the invalid phone ticket is not counted)
    assert f["Telegram"][:2] == (8, pytest.approx(8 / 9)) and f["电话"][:2] == (1, pytest.approx(1 / 9))
    assert f["投诉"][0] == 7 and f["咨询"][0] == 1 and f["建议"][0] == 1
    # filing → first resolution: urgent T1 3 h and T8 1 h; important T2 28 h; general T6 31, T7 33, T9 83 h
    assert f["Ⅰ 紧急（2 单）"][0] == pytest.approx(2.0)
    assert f["Ⅱ 重要（1 单）"][0] == pytest.approx(28.0)
    assert f["Ⅲ 一般（3 单）"][0] == pytest.approx(49.0)
    reopen = f["重开率（重开 / 已办结）"]
    assert reopen[0] == pytest.approx(1 / 6) and reopen[1] == "1/6"  # T2 of T1 T2 T6 T7 T8 T9
    rate_row = next(r for r in workbook["专项指标"].iter_rows(min_row=2) if r[0].value == "重开率（重开 / 已办结）")
    assert rate_row[1].number_format == "0.0%"


async def test_majors_sheet_with_owner_and_outcome(workbook):
    sheet = rows(workbook["重大投诉"])
    assert sheet[0] == ("工单号", "登记时间", "分类", "位置", "负责人", "答复期限", "首次答复", "按时答复", "解决期限", "首次办结",
                        "状态", "结果")
    [t8] = sheet[1:]
    assert t8[0] == "TS20261020-0009" and t8[4] == "刘经理"
    assert t8[6].strftime("%m-%d %H:%M") == "10-20 12:00" and t8[7] == "否"  # local time; due by 11:00
    assert t8[9].strftime("%m-%d %H:%M") == "10-20 10:00"
    assert (t8[10], t8[11]) == ("已处理待回访", "按期解决")


async def test_analysis_on_the_first_sheet(workbook):
    assert workbook.sheetnames[0] == "汇总"
    assert by_first(workbook["汇总"])["管理层分析（原因分析 / 整改措施）"][0] == ANALYSIS


async def test_analysis_not_written_yet(sessions, tmp_path):
    async with sessions() as session:
        await seed(session)
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "x.xlsx", now=AFTER, text=TEXT)
        assert (await session.exec(select(ReportRun))).all() == []
    wb = load_workbook(files.xlsx)
    assert by_first(wb["汇总"])["管理层分析（原因分析 / 整改措施）"][0] == "（未填写）"
    assert rows(wb["重大投诉"])[1][4] == "—"  # T8 is major but has no owner (marked before owners existed)
