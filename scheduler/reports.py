"""The monthly report job: on REPORT_DAY at REPORT_TIME queue last month's report for every manager,
once per month even across restarts (a `report_run` row is the claim, in the same transaction as
the notices, so a crash loses nothing); a missed slot is caught up. Delivery builds the workbook
in each manager's language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import upsert_insert, writing
from models.tables import ReportRun
from models.types import utcnow
from services import outbox, review, routing, stats
from services.notices import NoticeKind, to_staff

log = logging.getLogger(__name__)


class MonthlyReport:
    """One look per tick: is last month's report due and not yet queued?"""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, day: int, at: time, tz: ZoneInfo,
                 clock: Callable[[], datetime] = utcnow, review: bool = True) -> None:
        self.sessions = sessions
        self.review = review  # REPORT_REVIEW: a draft for managers to approve (else sent at once)
        self.day = day
        self.at = at
        self.tz = tz
        self.clock = clock

    def due_month(self, now: datetime) -> str | None:
        """The month to report on, if this month's sending time has come."""
        local = now.astimezone(self.tz)
        send_at = datetime.combine(local.date().replace(day=min(self.day, 28)), self.at, self.tz)
        return stats.previous_month(stats.current_month(self.tz, now)) if local >= send_at else None

    async def tick(self) -> str | None:
        """Queue the report for every manager (once per month, even across restarts and processes)."""
        if self.day == 0:  # REPORT_DAY=0 switches the scheduled report off
            return None
        now = self.clock()
        month = self.due_month(now)
        if month is None:
            return None
        async with self.sessions() as session:
            if self.review:
                # 经管理层审核后发送: a draft for the managers to review and approve
                notices = await review.make_draft(session, month, now)
                if not notices:
                    return None
                log.info("monthly report %s drafted for review by %d manager(s)", month, len(notices))
                return month
            recipients = await routing.managers(session)
            if not recipients:  # nobody to send to (e.g. the demo): nothing to do, and no claim taken
                return None
            async with writing(session):
                table = ReportRun.__table__
                insert = upsert_insert(session)
                claimed = await session.exec(insert(table).values(month=month, started_at=now, sent_at=now,
                                                                  recipients=len(recipients))
                                             .on_conflict_do_nothing(index_elements=[table.c.month]))
                if not claimed.rowcount:
                    await session.commit()
                    return None
                outbox.put(session, [to_staff(NoticeKind.MONTHLY_REPORT, person.id, None, month=month)
                                     for person in recipients], now)
                await session.commit()
        log.info("monthly report %s queued for %d manager(s)", month, len(recipients))
        return month
