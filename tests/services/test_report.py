"""The monthly workbook and charts, built from the hand-made month of ``test_stats`` (both backends)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from fontTools.ttLib import TTCollection, TTFont
from matplotlib import font_manager
from openpyxl import load_workbook
from PIL import Image

from bot.i18n import catalogues
from services import charts
from services.report import build_report, local_days
from tests.services.test_stats import AFTER, SH, numbers, seed

SHEETS = ["汇总", "分类×级别", "楼栋区域", "人员", "重复问题TOP3", "专项指标", "重大投诉", "工单明细", "整改措施", "图表"]
TEXT = catalogues().text  # the default locale, Simplified Chinese


@pytest.fixture
async def report(sessions, tmp_path):
    async with sessions() as session:
        ids = await seed(session)
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "out" / "2026-10.xlsx", now=AFTER, text=TEXT)
    return files, ids


def rows(ws) -> list[list]:
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def by_first(ws) -> dict:
    return {r[0]: r[1:] for r in rows(ws)[1:] if r and r[0] is not None}


async def test_workbook(report):
    files, _ = report
    assert files.xlsx.is_file() and files.summary.total == 9
    wb = load_workbook(files.xlsx)
    assert wb.sheetnames == SHEETS
    for name in SHEETS[:-1]:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.column_dimensions["A"].width > 5, name

    summary = wb["汇总"]
    assert [c.value for c in summary[1]] == ["指标", "本月（2026年10月）", "上月（2026年9月）", "变化"]
    s = by_first(summary)
    assert s["工单总数"][:3] == (9, 1, 8)
    assert s["响应及时率"][0] == pytest.approx(4 / 6) and s["响应及时率"][1] == pytest.approx(1.0)
    assert s["处理及时率"][0] == pytest.approx(5 / 6)
    assert s["回访率"][0] == pytest.approx(5 / 6) and s["回访率"][1] == "—"
    assert s["平均满意度（分）"][0] == pytest.approx(3.0)
    assert s["满意率（≥4分）"][0] == pytest.approx(0.4)
    assert s["超期未办结"][:2] == (2, 0) and s["重开工单"][:2] == (1, 0)
    assert s["分类：工程管理"][:3] == (5, 1, 4)
    rate_row = next(r for r in summary.iter_rows(min_row=2) if r[0].value == "处理及时率")
    assert rate_row[1].number_format == "0.0%" and rate_row[3].number_format == "+0.0%;-0.0%;0.0%"

    cs = by_first(wb["分类×级别"])
    assert [c.value for c in wb["分类×级别"][1]][:4] == ["分类", "Ⅰ 紧急", "Ⅱ 重要", "Ⅲ 一般"]
    assert cs["工程管理"][:4] == (1, 1, 3, 5)
    assert cs["安全管理"][:4] == (1, 0, 1, 2)
    assert cs["合计"][:4] == (2, 1, 6, 9)

    b = by_first(wb["楼栋区域"])
    assert b["3栋"][0] == 3  # "3栋2单元501", "3号楼1单元201", "3栋2单元502"
    assert {k: v[0] for k, v in b.items()} == {"3栋": 3, "12栋": 1, "5栋": 1, "A座": 1, "小区北门": 1,
                                              "地下车库": 1, "未填写": 1}

    staff = by_first(wb["人员"])
    # name: 班组, 工单数, 占比, 已办结, 按时响应率, 按时办结, 处理及时率, 超期未办结, 重开, 评价数, 平均评分
    assert staff["王师傅"][1] == 3 and staff["王师傅"][5] == 3 and staff["王师傅"][9:] == (3, 4.0)
    assert staff["李师傅"][1] == 2 and staff["李师傅"][8] == 1 and staff["李师傅"][9:] == (2, 1.5)
    assert staff["赵队长"][1] == 2 and staff["赵队长"][6] == 0
    assert staff["（未分派）"][1] == 2
    assert list(staff)[-1] == "（未分派）"

    m = rows(wb["重复问题TOP3"])[1:]
    assert [(r[1], r[2], r[4]) for r in m] == [("工程管理", "电梯", 3), ("工程管理", "漏水", 2),
                                                ("环境管理", "垃圾", 1)]
    assert m[0][3] == "坏了（2）" and m[1][3] == "—"
    assert m[0][6].split("、")[1] == numbers("T2")[0] and len(m[0][6].split("、")) == 3

    tickets = wb["工单明细"]
    body = rows(tickets)[1:]
    assert len(body) == 9
    assert body[0][0].startswith("TS20261001") and body[-1][0].startswith("TS20261031")
    t2 = next(r for r in body if r[0] == numbers("T2")[0])
    header = [c.value for c in tickets[1]]
    t2 = dict(zip(header, t2, strict=True))
    assert t2["按时响应"] == "否" and t2["按时办结"] == "是" and t2["重开次数"] == 2 and t2["回访评分"] == 2
    assert t2["首次办结时间"].strftime("%m-%d %H:%M") == "10-06 14:00"  # local time, not the re-resolve
    assert t2["楼栋/区域"] == "3栋" and t2["状态"] == "重新处理"
    assert tickets.cell(row=2, column=2).number_format == "yyyy-mm-dd hh:mm"

    assert len(wb["图表"]._images) == 3


async def test_charts_are_pngs(report):
    files, _ = report
    assert [p.name for p in files.charts] == ["2026-10.category.png", "2026-10.daily.png", "2026-10.ratings.png"]
    for path in files.charts:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] >= 600 and image.size[1] >= 300
            # Not blank: a chart has many colours.
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20


def test_cjk_font_covers_every_label():
    """Tofu check: the registered font has a glyph for every Chinese character the charts draw."""
    family = charts.cjk_font()
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    font = TTCollection(path).fonts[0] if path.lower().endswith(".ttc") else TTFont(path)
    cmap = font.getBestCmap()
    labels = "投诉分类统计共件每日新增工单满意度分布条评价数问题未解决日期（）分年月无数据" + "安全管理工程环境综合服务人员邻里纠纷地产相关其他"
    missing = [ch for ch in labels if ord(ch) not in cmap]
    assert not missing


async def test_empty_month_report(sessions, tmp_path):
    async with sessions() as session:
        files = await build_report(session, month="2026-02", tz=SH, out=tmp_path / "empty.xlsx", now=AFTER, text=TEXT)
    wb = load_workbook(files.xlsx)
    assert by_first(wb["汇总"])["工单总数"][:3] == (0, 0, 0)
    assert len(rows(wb["工单明细"])) == 1 and len(files.charts) == 3
    assert all(p.is_file() for p in files.charts)


def test_local_days_handles_dst():
    ny = local_days("2026-11", ZoneInfo("America/New_York"))
    assert len(ny) == 30 and ny[0][0] == date(2026, 11, 1)
    assert (ny[1][1] - ny[0][1]).total_seconds() == 25 * 3600  # the day DST ends
    assert len(local_days("2026-02", SH)) == 28


async def test_ticket_list_is_capped(sessions, tmp_path, monkeypatch):
    from services import report as report_module

    monkeypatch.setattr(report_module, "TICKET_LIST_LIMIT", 3)
    async with sessions() as session:
        await seed(session)
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "cap.xlsx", now=AFTER, text=TEXT)
    body = rows(load_workbook(files.xlsx)["工单明细"])[1:]
    assert len(body) == 4 and body[-1][0] == "（仅列出前 3 条，共 9 条）"


async def test_workbook_in_english(sessions, tmp_path):
    """A manager reading English gets English sheets, headers, labels and chart titles."""
    async with sessions() as session:
        await seed(session)
    with catalogues().use_locale("en"):
        async with sessions() as session:
            files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "en.xlsx", now=AFTER,
                                       text=catalogues().text)
    wb = load_workbook(files.xlsx)
    assert wb.sheetnames == ["Summary", "Category × severity", "Buildings", "Staff", "Top 3 recurring", "Figures",
                             "Major complaints", "Tickets", "Corrective actions", "Charts"]
    summary = wb["Summary"]
    assert [c.value for c in summary[1]] == ["Figure", "This month (2026-10)", "Last month (2026-09)", "Change"]
    s = by_first(summary)
    assert s["Tickets"][:3] == (9, 1, 8) and s["Category: Engineering (工程管理)"][:3] == (5, 1, 4)
    assert by_first(wb["Buildings"])["not given"][0] == 1
    assert list(by_first(wb["Staff"]))[-1] == "(unassigned)"
    header = [c.value for c in wb["Tickets"][1]]
    t2 = dict(zip(header, next(r for r in rows(wb["Tickets"])[1:] if r[0] == numbers("T2")[0]), strict=True))
    assert t2["Responded on time"] == "no" and t2["Resolved on time"] == "yes" and t2["Building / area"] == "3栋"
