"""Deadline watch (超时预警): response and resolution deadlines, progress nudges, majors by age.

Each step bumps a level on the ticket with one conditional UPDATE, so a warning goes out once
per level even with several processes ticking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import Complaint
from services import matters
from services.sla import SlaPolicy, reminder_time

NOT_ACCEPTED = ("new", "assigned", "reopened")
IN_HANDLING = ("new", "assigned", "accepted", "reopened")


@dataclass(frozen=True)
class Alert:
    """One thing to tell someone: ``kind`` is response_1, response_2, remind, overdue, nudge or major."""

    kind: str
    complaint_id: int


async def _bump(session: AsyncSession, complaint_id: int, column: str, expected, value) -> bool:
    await fresh_transaction(session)
    field = getattr(Complaint, column)
    condition = col(field).is_(None) if expected is None else field == expected
    result = await session.exec(update(Complaint).where(Complaint.id == complaint_id, condition).values({column: value}))
    await session.commit()
    return bool(result.rowcount)


async def watch(session: AsyncSession, *, policy: SlaPolicy, now: datetime, nudge_after: timedelta,
                major_after: timedelta) -> list[Alert]:
    """Everything that fell due since the last look, each claimed once."""
    alerts: list[Alert] = []
    rows = (await session.exec(select(Complaint).where(col(Complaint.status).in_(IN_HANDLING)))).all()
    for c in rows:
        if c.status in NOT_ACCEPTED and c.respond_by is not None:
            second = c.respond_by + (c.respond_by - c.created_at)  # a second period after the deadline
            if c.response_level == 0 and now >= c.respond_by and await _bump(session, c.id, "response_level", 0, 1):
                alerts.append(Alert("response_1", c.id))
            elif c.response_level == 1 and now >= second and await _bump(session, c.id, "response_level", 1, 2):
                alerts.append(Alert("response_2", c.id))
        if c.resolve_by is not None and c.status != "new":
            if c.resolve_level < 2 and now >= c.resolve_by and await _bump(session, c.id, "resolve_level", c.resolve_level, 2):
                alerts.append(Alert("overdue", c.id))
            elif (c.resolve_level == 0 and c.assignee_id is not None
                  and now >= reminder_time(policy, c.severity, c.created_at, c.resolve_by)
                  and await _bump(session, c.id, "resolve_level", 0, 1)):
                alerts.append(Alert("remind", c.id))
        if c.status == "accepted":
            since = max(filter(None, (c.last_progress_at, c.accepted_at, c.nudged_at)))
            if now - since >= nudge_after and await _bump(session, c.id, "nudged_at", c.nudged_at, now):
                alerts.append(Alert("nudge", c.id))
        if not c.major and now - c.created_at >= major_after:
            days = int(major_after.total_seconds() // 86400)
            reason = f"受理{days}天仍未解决" if days else "超过期限仍未解决"
            if await matters.mark_major(session, [c], reason, now):
                alerts.append(Alert("major", c.id))
    return alerts
