"""Deadline watch (超时预警): response and resolution deadlines, progress nudges, majors by age.

Each step bumps a level on the ticket with one conditional UPDATE and stores the notices it
causes in the same transaction, so a warning goes out once per level even with several
processes ticking, and a crash loses none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import Complaint
from services import majors, matters, outbox, routing
from services.notices import Notice, NoticeKind, to_resident, to_staff
from services.sla import SlaPolicy, clock_start, reminder_time

NOT_ACCEPTED = ("new", "assigned", "reopened")
IN_HANDLING = ("new", "assigned", "accepted", "reopened")


async def _bump(session: AsyncSession, complaint_id: int, column: str, expected, value) -> bool:
    field = getattr(Complaint, column)
    condition = col(field).is_(None) if expected is None else field == expected
    result = await session.exec(update(Complaint).where(Complaint.id == complaint_id, condition).values({column: value}))
    return bool(result.rowcount)


async def _alert(session: AsyncSession, c: Complaint, kind: str, nudge_after: timedelta) -> list[Notice]:
    """Who hears of one alert, inside the bump's transaction."""
    if kind == "response_1":
        return [to_staff(NoticeKind.RESPONSE_OVERDUE, p.id, c.id) for p in await routing.supervisor_or_managers(session, c.team_id)]
    if kind == "response_2":
        return [to_staff(NoticeKind.RESPONSE_OVERDUE_MANAGER, p.id, c.id) for p in await routing.managers(session)]
    if kind == "remind":
        return [to_staff(NoticeKind.RESOLVE_REMINDER, c.assignee_id, c.id)] if c.assignee_id else []
    if kind == "overdue":
        return [to_staff(NoticeKind.RESOLVE_OVERDUE, p.id, c.id) for p in await routing.supervisor_or_managers(session, c.team_id)]
    if kind == "nudge":
        notices = [to_resident(NoticeKind.PROGRESS, c.resident_id, c.id)]
        if c.assignee_id:
            notices.append(to_staff(NoticeKind.PROGRESS_NUDGE, c.assignee_id, c.id,
                                    period=int(nudge_after.total_seconds())))
        return notices
    return []


async def watch(session: AsyncSession, *, policy: SlaPolicy, now: datetime, nudge_after: timedelta,
                major_after: timedelta, major_rules: majors.MajorRules | None = None) -> list[Notice]:
    """Everything that fell due since the last look, each claimed once; returns the notices stored."""
    notices: list[Notice] = []
    rows = (await session.exec(select(Complaint).where(col(Complaint.status).in_(IN_HANDLING)))).all()

    async def step(c: Complaint, kind: str, column: str, expected, value) -> None:
        async with writing(session):
            if await _bump(session, c.id, column, expected, value):
                found = await _alert(session, c, kind, nudge_after)
                outbox.put(session, found, now)
                notices.extend(found)
            await session.commit()

    async def major_step(c: Complaint, kind: NoticeKind, column: str) -> None:
        async with writing(session):
            if await _bump(session, c.id, column, 0, 1):
                found = [to_staff(kind, p.id, c.id) for p in await majors.escalation_recipients(session, c)]
                outbox.put(session, found, now)
                notices.extend(found)
            await session.commit()

    for c in rows:
        if c.major and c.major_reply_by is not None and c.major_replied_at is None and c.major_reply_level == 0 \
                and now >= c.major_reply_by:
            await major_step(c, NoticeKind.MAJOR_REPLY_OVERDUE, "major_reply_level")
        if c.major and c.major_resolve_by is not None and c.major_resolve_level == 0 and now >= c.major_resolve_by:
            await major_step(c, NoticeKind.MAJOR_RESOLVE_OVERDUE, "major_resolve_level")
        if c.status in NOT_ACCEPTED and c.respond_by is not None:
            second = c.respond_by + (c.respond_by - clock_start(c))  # a second period after the deadline
            if c.response_level == 0 and now >= c.respond_by:
                await step(c, "response_1", "response_level", 0, 1)
            elif c.response_level == 1 and now >= second:
                await step(c, "response_2", "response_level", 1, 2)
        if c.resolve_by is not None and c.status != "new":
            if c.resolve_level < 2 and now >= c.resolve_by:
                await step(c, "overdue", "resolve_level", c.resolve_level, 2)
            elif (c.resolve_level == 0 and c.assignee_id is not None
                  and now >= reminder_time(policy, c.severity, clock_start(c), c.resolve_by)):
                await step(c, "remind", "resolve_level", 0, 1)
        if c.status == "accepted":
            since = max(filter(None, (c.last_progress_at, c.accepted_at, c.nudged_at)))
            if now - since >= nudge_after:
                await step(c, "nudge", "nudged_at", c.nudged_at, now)
        if not c.major and now - c.created_at >= major_after:
            async with writing(session):
                days = int(major_after.total_seconds() // 86400)
                if await matters.mark_major(session, [c], {"age_days": days}, now):
                    found = await matters.major_notices(session, [c.id])
                    found += await majors.take_charge(session, [c.id], now, major_rules or majors.MajorRules(),
                                                      policy.calendar)
                    outbox.put(session, found, now)
                    notices.extend(found)
                await session.commit()
    return notices
