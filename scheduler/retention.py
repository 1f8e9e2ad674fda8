"""The retention job: once a day at RETENTION_AT, anonymise what is past RETENTION (services.retention)
and forget webhook update ids handled more than a day ago."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.types import utcnow
from services import retention, updates

log = logging.getLogger(__name__)
UPDATE_WINDOW = timedelta(days=1)  # how long a handled webhook update_id is remembered (Telegram retries for less)


class RetentionJob:
    """Runs on the first tick at or after RETENTION_AT each local day (safe in several processes)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, keep: timedelta, at: time, tz: ZoneInfo,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.keep = keep
        self.at = at
        self.tz = tz
        self.clock = clock
        self.last_day: date | None = None

    async def tick(self) -> retention.RetentionRun | None:
        now = self.clock()
        local = now.astimezone(self.tz)
        if local.time() < self.at or self.last_day == local.date():
            return None
        async with self.sessions() as session:
            run = await retention.anonymise(session, keep=self.keep, now=now)
            await updates.forget_old(session, now=now, window=UPDATE_WINDOW)
        self.last_day = local.date()
        if run.tickets or run.residents or run.notices:
            log.info("retention: %d ticket(s), %d resident(s) anonymised, %d old notice(s) deleted",
                     len(run.tickets), run.residents, run.notices)
        return run
