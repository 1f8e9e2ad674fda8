"""Monthly report review (经管理层审核后发送): the scheduled job makes a draft, a manager writes the
analysis summary (原因分析 / 整改措施 of the month, on the report's first sheet) and approves; only
then is the report sent to the recipients (the managers), each in their own language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import upsert_insert, writing
from models.tables import ReportRun, Staff
from services import outbox, routing
from services.errors import DeskError
from services.notices import Notice, NoticeKind, to_staff
from services.stats import parse_month

SUMMARY_MAX = 4000
DRAFT, SENT = "draft", "sent"


def may_review(staff: Staff) -> bool:
    return staff.role in ("manager", "admin")


async def make_draft(session: AsyncSession, month: str, now: datetime) -> list[Notice]:
    """Claim the month (once, even across restarts and processes) as a draft and ask the managers
    to review it; [] when the month was already claimed or nobody could review it."""
    reviewers = await routing.managers(session)
    if not reviewers:
        return []
    async with writing(session):
        table = ReportRun.__table__
        insert = upsert_insert(session)
        claimed = await session.exec(insert(table).values(month=month, started_at=now, sent_at=None, recipients=0,
                                                          status=DRAFT)
                                     .on_conflict_do_nothing(index_elements=[table.c.month]))
        if not claimed.rowcount:
            await session.commit()
            return []
        notices = [to_staff(NoticeKind.REPORT_DRAFT, person.id, None, month=month) for person in reviewers]
        await outbox.commit_with(session, notices, now)
    return notices


async def run_of(session: AsyncSession, month: str) -> ReportRun | None:
    return await session.get(ReportRun, month, populate_existing=True)


async def drafts(session: AsyncSession) -> list[ReportRun]:
    rows = await session.exec(select(ReportRun).where(ReportRun.status == DRAFT).order_by(col(ReportRun.month)))
    return list(rows.all())


async def summary_of(session: AsyncSession, month: str) -> str | None:
    """The approved (or draft) analysis summary of a month, for the report's first sheet."""
    return (await session.exec(select(ReportRun.summary).where(ReportRun.month == month))).first()


async def _draft(session: AsyncSession, month: str, staff: Staff) -> ReportRun:
    try:
        parse_month(month)
    except ValueError:
        raise DeskError("report_no_draft", month=month) from None
    if not may_review(staff):
        raise DeskError("report_not_reviewer")
    run = await session.get(ReportRun, month, populate_existing=True, with_for_update=True)
    if run is None or run.status != DRAFT:
        raise DeskError("report_no_draft", month=month)
    return run


async def set_summary(session: AsyncSession, month: str, staff: Staff, text: str, *, now: datetime) -> ReportRun:
    """The manager writes (or rewrites) the month's analysis summary while it is a draft."""
    value = (text or "").strip()
    if len(value) > SUMMARY_MAX:
        raise DeskError("note_too_long", limit=SUMMARY_MAX)
    async with writing(session):
        run = await _draft(session, month, staff)
        run.summary = value or None
        session.add(run)
        await session.commit()
    return run


async def approve(session: AsyncSession, month: str, staff: Staff, *, now: datetime,
                  summary: str | None = None) -> list[Notice]:
    """Approve the draft (optionally with its summary): the report goes to every manager."""
    if summary is not None and len(summary.strip()) > SUMMARY_MAX:
        raise DeskError("note_too_long", limit=SUMMARY_MAX)
    async with writing(session):
        await _draft(session, month, staff)  # refuses what is not a draft
        recipients = await routing.managers(session)
        values = {"status": SENT, "sent_at": now, "approved_by_id": staff.id, "approved_at": now,
                  "recipients": len(recipients)}
        if summary is not None:
            values["summary"] = summary.strip() or None
        done = await session.exec(update(ReportRun).where(ReportRun.month == month, ReportRun.status == DRAFT)
                                  .values(**values))
        if not done.rowcount:
            raise DeskError("report_no_draft", month=month)
        notices = [to_staff(NoticeKind.MONTHLY_REPORT, person.id, None, month=month) for person in recipients]
        await outbox.commit_with(session, notices, now)
    return notices
