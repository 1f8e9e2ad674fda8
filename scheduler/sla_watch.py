"""The deadline-watch job: one look at the deadlines per tick (services.escalation stores the notices)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.types import utcnow
from services import escalation, procedure
from services.notices import Notice
from services.sla import SlaPolicy


class SlaWatcher:
    """Escalations, reminders, nudges and majors by age, once each."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: SlaPolicy, *,
                 nudge_after: timedelta, major_after: timedelta, major_rules=None,
                 clock: Callable[[], datetime] = utcnow, action_remind_before: timedelta = timedelta(days=1)) -> None:
        self.sessions = sessions
        self.policy = policy
        self.nudge_after = nudge_after
        self.major_after = major_after
        self.major_rules = major_rules
        self.clock = clock
        self.action_remind_before = action_remind_before

    async def tick(self) -> list[Notice]:
        now = self.clock()
        async with self.sessions() as session:
            notices = await escalation.watch(session, policy=self.policy, now=now,
                                             nudge_after=self.nudge_after, major_after=self.major_after,
                                             major_rules=self.major_rules)
            # handling plans missing past their deadline, corrective actions due (services.procedure)
            notices += await procedure.watch(session, now=now, remind_before=self.action_remind_before)
            return notices
