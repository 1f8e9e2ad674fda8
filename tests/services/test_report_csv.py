"""The month's whole ticket list as CSV beside a workbook that keeps the first rows, and the top
matters after a category correction (both backends; the seeded month of ``test_stats``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import load_workbook
from sqlmodel import select

from bot.i18n import catalogues
from models.db import fresh_transaction
from models.tables import Complaint
from services import report as report_module
from services.report import build_report, recurring_matters, ticket_csv, write_ticket_csv
from services.stats import month_bounds, month_stats
from tests.services.test_stats import AFTER, ENG, SH, numbers, seed

TEXT = catalogues().text


async def month_numbers(session, month: str = "2026-10", team_id: int | None = None) -> list[str]:
    start, end = month_bounds(month, SH)
    query = select(Complaint.number).where(Complaint.created_at >= start, Complaint.created_at < end)
    if team_id is not None:
        query = query.where(Complaint.team_id == team_id)
    return list((await session.exec(query.order_by(Complaint.created_at, Complaint.id))).all())


async def csv_of(session, **kwargs) -> tuple[bytes, list[bytes]]:
    chunks = [chunk async for chunk in ticket_csv(session, month="2026-10", tz=SH, now=AFTER, **kwargs)]
    return b"".join(chunks), chunks


def as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


async def test_csv_is_the_whole_list_sheet_in_utf8_with_bom(sessions, tmp_path):
    async with sessions() as session:
        await seed(session)
    async with sessions() as session:
        expected = await month_numbers(session)
        data, chunks = await csv_of(session, text=TEXT, batch=2)
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "r.xlsx", now=AFTER, text=TEXT)
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(chunks) == 1 + 5  # the header, then 9 rows two at a time: streamed in batches
    table = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
    sheet = list(load_workbook(files.xlsx)["工单明细"].iter_rows(values_only=True))
    assert table[0] == list(sheet[0]) and table[0][:3] == ["工单编号", "提交时间", "分类"]
    assert [row[0] for row in table[1:]] == expected and len(expected) == 9
    # cell for cell the list sheet's values (times in local time, labels in the reader's language)
    assert table[1:] == [[as_text(v) for v in row] for row in sheet[1:]]
    t2 = dict(zip(table[0], next(r for r in table if r[0] == numbers("T2")[0]), strict=True))
    assert t2["首次办结时间"] == "2026-10-06 14:00" and t2["按时响应"] == "否" and t2["重开次数"] == "2"


async def test_csv_in_english_and_for_one_team(sessions, tmp_path):
    async with sessions() as session:
        ids = await seed(session)
    english = lambda key, **params: catalogues().text(key, locale="en", **params)  # noqa: E731
    async with sessions() as session:
        team = ids["team_engineering"]
        expected = await month_numbers(session, team_id=team)
        data, _ = await csv_of(session, text=english, team_id=team)
        path = await write_ticket_csv(session, tmp_path / "t.csv", month="2026-10", tz=SH, text=english,
                                      team_id=team, now=AFTER)
    assert path.read_bytes() == data
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:3] == ["Ticket", "Filed", "Category"]
    assert [row[0] for row in table[1:]] == expected and 0 < len(expected) < 9


async def test_workbook_keeps_the_first_rows_and_points_to_the_csv(sessions, tmp_path, monkeypatch):
    async with sessions() as session:
        await seed(session)
    async with sessions() as session:
        expected = await month_numbers(session)
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "cap.xlsx", now=AFTER, text=TEXT,
                                   list_rows=4)
        data, _ = await csv_of(session, text=TEXT)
    body = list(load_workbook(files.xlsx)["工单明细"].iter_rows(values_only=True))[1:]
    assert [r[0] for r in body[:4]] == expected[:4] and len(body) == 5
    assert body[-1][0] == "（仅列出前 4 条，共 9 条）" and "CSV" in body[-1][1]
    assert len(data.decode("utf-8-sig").splitlines()) == 1 + 9  # the CSV has them all
    # the default comes from the module (the setting report_list_rows passes its own)
    monkeypatch.setattr(report_module, "TICKET_LIST_LIMIT", 20)
    async with sessions() as session:
        files = await build_report(session, month="2026-10", tz=SH, out=tmp_path / "all.xlsx", now=AFTER, text=TEXT)
    body = list(load_workbook(files.xlsx)["工单明细"].iter_rows(values_only=True))[1:]
    assert [r[0] for r in body] == expected


async def test_matters_follow_a_category_correction(sessions):
    """PostgreSQL keeps the primary keyword in a generated column: it must follow the category."""
    async with sessions() as session:
        ids = await seed(session)
    async with sessions() as session:
        stats = await month_stats(session, month="2026-10", tz=SH, now=AFTER)
        before = await recurring_matters(session, stats)
        assert [(m.category, m.term, m.count) for m in before][0] == (ENG, "电梯", 3)
        await fresh_transaction(session)
        t8 = await session.get(Complaint, ids["T8"])  # 安全管理, but its 电梯 voted for 工程管理
        t8.category = ENG
        await session.commit()
    async with sessions() as session:
        after = await recurring_matters(session, stats)
        team = await recurring_matters(session, await month_stats(session, month="2026-10", tz=SH, now=AFTER,
                                                                  team_id=ids["team_security"]))
    assert (after[0].category, after[0].term, after[0].count) == (ENG, "电梯", 4)
    assert after[0].examples[0] == "TS20261020-0009" and after[0].shared == [("坏了", 2)]
    assert [(m.category, m.term, m.count) for m in team] == [(ENG, "电梯", 1)]


async def test_the_command_writes_the_csv_beside_the_workbook(database_url, sessions, tmp_path):
    from bot.report_cli import write_report
    from bot.settings import Settings

    async with sessions() as session:
        await seed(session)
        expected = await month_numbers(session)
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(database_url=database_url, report_list_rows=2, _env_file=None)
    code = await write_report(month="2026-10", out=tmp_path / "m.xlsx", team=None, out_stream=out, err=err,
                              settings=settings, csv=True)
    assert code == 0, err.getvalue()
    assert f"wrote {tmp_path / 'm.csv'}" in out.getvalue()
    table = list(csv.reader(io.StringIO((tmp_path / "m.csv").read_text(encoding="utf-8-sig"))))
    assert [row[0] for row in table[1:]] == expected
    body = list(load_workbook(tmp_path / "m.xlsx")["工单明细"].iter_rows(values_only=True))[1:]
    assert [r[0] for r in body[:2]] == expected[:2] and len(body) == 3  # two rows and the note
