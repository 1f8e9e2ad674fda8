"""The monthly report job: on REPORT_DAY at REPORT_TIME send last month's report to every manager,
once per month even across restarts (a `report_run` row is the claim); a missed slot is caught up."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

from aiogram.types import FSInputFile
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts_staff as st
from bot.notify import Notifier
from models.db import fresh_transaction
from models.tables import ReportRun
from models.types import utcnow
from services import report as report_service
from services import stats

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=30)  # a claim older than this without "sent" was a crash: take it again


class MonthlyReport:
    """One look per tick: is last month's report due and not yet sent?"""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notifier: Notifier, *, day: int, at: time,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.day = day
        self.at = at
        self.clock = clock

    def due_month(self, now: datetime) -> str | None:
        """The month to report on, if this month's sending time has come."""
        tz = self.notifier.settings.tz
        local = now.astimezone(tz)
        send_at = datetime.combine(local.date().replace(day=min(self.day, 28)), self.at, tz)
        return stats.previous_month(stats.current_month(tz, now)) if local >= send_at else None

    async def claim(self, session: AsyncSession, month: str, now: datetime) -> bool:
        table = ReportRun.__table__
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        connection = await session.connection()
        inserted = await connection.execute(
            insert(table).values(month=month, started_at=now).on_conflict_do_nothing(index_elements=[table.c.month]))
        claimed = bool(inserted.rowcount)
        if not claimed:
            retried = await session.exec(update(ReportRun).where(
                ReportRun.month == month, col(ReportRun.sent_at).is_(None),
                ReportRun.started_at < now - RETRY_AFTER).values(started_at=now))
            claimed = bool(retried.rowcount)
        await session.commit()
        return claimed

    async def tick(self) -> str | None:
        if self.day == 0:  # REPORT_DAY=0 switches the scheduled report off
            return None
        now = self.clock()
        month = self.due_month(now)
        if month is None:
            return None
        recipients = await self.notifier.managers()
        if not recipients:  # nobody to send to (e.g. the demo): nothing to do, and no claim taken
            return None
        async with self.sessions() as session:
            if not await self.claim(session, month, now):
                return None
            with tempfile.TemporaryDirectory(prefix="huifang-monthly-") as folder:
                files = await report_service.build_report(session, month=month, tz=self.notifier.settings.tz,
                                                          out=Path(folder) / f"月度投诉分析报告-{month}.xlsx")
                bot = self.notifier.sender.bot
                for person in recipients:
                    try:
                        await bot.send_message(person.chat_id, st.REPORT_MONTHLY.format(month=month))
                        await bot.send_document(person.chat_id, FSInputFile(files.xlsx),
                                                caption=st.REPORT_CAPTION.format(month=month))
                        for chart in files.charts:
                            await bot.send_photo(person.chat_id, FSInputFile(chart))
                    except Exception:  # one unreachable manager must not stop the others
                        log.exception("monthly report to %s failed", person.name)
            await fresh_transaction(session)
            await session.exec(update(ReportRun).where(ReportRun.month == month)
                               .values(sent_at=self.clock(), recipients=len(recipients)))
            await session.commit()
        log.info("monthly report %s sent to %d manager(s)", month, len(recipients))
        return month
