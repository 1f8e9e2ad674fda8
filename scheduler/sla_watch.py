"""The deadline-watch job: turns services.escalation alerts into messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts
from bot import texts_staff as st
from bot.notify import Notifier
from models.tables import Complaint, Staff, Team
from models.types import utcnow
from services import escalation
from services import staff as staff_service
from services.durations import format_duration_zh
from services.sla import SlaPolicy

log = logging.getLogger(__name__)


class SlaWatcher:
    """One look at the deadlines per tick."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notifier: Notifier, policy: SlaPolicy, *,
                 nudge_after: timedelta, major_after: timedelta, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.policy = policy
        self.nudge_after = nudge_after
        self.major_after = major_after
        self.clock = clock

    async def tick(self) -> list[escalation.Alert]:
        async with self.sessions() as session:
            alerts = await escalation.watch(session, policy=self.policy, now=self.clock(),
                                            nudge_after=self.nudge_after, major_after=self.major_after)
        for alert in alerts:
            try:
                await self.deliver(alert)
            except Exception:  # one failed message must not stop the others
                log.exception("could not deliver %s", alert)
        return alerts

    async def deliver(self, alert: escalation.Alert) -> None:
        tz = self.notifier.settings.tz
        async with self.sessions() as session:
            c = await session.get(Complaint, alert.complaint_id)
            assignee = await session.get(Staff, c.assignee_id) if c.assignee_id else None
            team = await session.get(Team, c.team_id) if c.team_id else None
            supervisor = await staff_service.supervisor_of(session, c.team_id)
        severity = texts.severity_label(c.severity)
        who = assignee.name if assignee else "未分派"
        if alert.kind == "response_1":
            text = st.RESPONSE_OVERDUE.format(number=c.number, severity=severity,
                                              deadline=texts.local_time(c.respond_by, tz), assignee=who)
            await self.notifier.to_people([supervisor] if supervisor else await self.notifier.managers(), text)
        elif alert.kind == "response_2":
            text = st.RESPONSE_OVERDUE_MANAGER.format(number=c.number, severity=severity,
                                                      deadline=texts.local_time(c.respond_by, tz),
                                                      team=team.name if team else "—")
            await self.notifier.to_people(await self.notifier.managers(), text)
        elif alert.kind == "remind" and assignee:
            await self.notifier.to_staff(assignee, st.RESOLVE_REMINDER.format(
                number=c.number, deadline=texts.local_time(c.resolve_by, tz)))
        elif alert.kind == "overdue":
            text = st.RESOLVE_OVERDUE.format(number=c.number, severity=severity,
                                             deadline=texts.local_time(c.resolve_by, tz), assignee=who)
            await self.notifier.to_people([supervisor] if supervisor else await self.notifier.managers(), text)
        elif alert.kind == "nudge":
            await self.notifier.to_resident(c, st.PROGRESS_RESIDENT.format(number=c.number))
            if assignee:
                await self.notifier.to_staff(assignee, st.PROGRESS_NUDGE.format(
                    number=c.number, period=format_duration_zh(self.nudge_after)))
        elif alert.kind == "major":
            await self.notifier.major_alert([c.id], c.major_reason)
