"""Figures the seeds ask for beyond the summary (``services.report`` writes them on two sheets):
有效投诉 and 无效投诉, the valid complaints by channel and by kind (投诉 / 咨询 / 建议), the average
resolution time by severity (平均解决时效), the reopen rate, and the month's major complaints with
their owner and outcome. Computed in the database (GROUP BY).

Definitions (scope and month as in ``services.stats``):

Valid
    Tickets not marked invalid (``stats.scope(valid=True)``); channel and kind count these.
Average resolution time
    Per severity, among valid tickets resolved at least once: the mean of (first resolution −
    filing), in hours of wall-clock time.
Reopen rate
    Valid tickets reopened at least once / valid tickets resolved at least once.
Majors
    The month's tickets marked major: owner, first-reply and resolution deadlines, when the
    resident was first replied to, the status now and the first resolution (on time or late).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Staff
from models.types import UTCDateTime
from services.domain import Status
from services.rollup import month_sums
from services.stats import C, MonthStats, Rate, resolution_subquery, run, scope


@dataclass
class MajorRow:
    number: str
    created_at: datetime
    category: str
    location: str
    owner: str | None
    reply_by: datetime | None
    replied_at: datetime | None
    resolve_by: datetime | None
    status: str
    first_resolved: datetime | None

    @property
    def replied_on_time(self) -> bool | None:
        if self.reply_by is None:
            return None
        return self.replied_at is not None and self.replied_at <= self.reply_by

    @property
    def resolved_on_time(self) -> bool | None:
        if self.resolve_by is None or self.first_resolved is None:
            return None
        return self.first_resolved <= self.resolve_by


@dataclass
class Figures:
    valid: int = 0
    invalid: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    resolution_hours: dict[str, tuple[int, float | None]] = field(default_factory=dict)  # severity → (n, mean h)
    reopen: Rate = Rate()
    majors: list[MajorRow] = field(default_factory=list)  # the first ``majors_limit`` when given
    major_count: int = 0  # all the month's majors (``majors`` may hold only the first ones)


async def month_figures(session: AsyncSession, stats: MonthStats, *, rollup: bool = True,
                        majors_limit: int | None = None) -> Figures:
    """The channel and kind counts, the resolution times and the reopen rate from the month's sums
    per (team, category, severity, status, channel, kind) (``services.rollup``; those ``month_stats``
    already read when it can); the majors are a second, small query (the first ``majors_limit``)."""
    start, end, team = stats.start, stats.end, stats.team_id
    out = Figures(valid=stats.valid, invalid=stats.invalid)
    if stats.ticket_sums is not None and stats.ticket_sums[0] == rollup:
        sums = stats.ticket_sums[1]
    else:
        sums = await month_sums(session, stats, "ticket", rollup=rollup)
    channels: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    hours: dict[str, list] = {}
    reopened = resolved_total = 0
    for (_team, _category, severity, status, channel, kind), s in sums.items():
        if status == Status.INVALID.value:
            continue
        channels[channel or ""] += s.n
        kinds[kind or ""] += s.n
        if s.resolved:
            total = hours.setdefault(severity, [0, 0.0])
            total[0] += s.resolved
            total[1] += s.res_seconds
        reopened += s.reopened
        resolved_total += s.resolved
    out.by_channel = dict(sorted(channels.items(), key=lambda kv: (-kv[1], kv[0])))
    out.by_kind = dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    out.resolution_hours = {sev: (n, total / n / 3600) for sev, (n, total) in hours.items()}
    out.reopen = Rate(reopened, resolved_total)
    out.major_count = sum(s.major for s in sums.values())
    first = func.coalesce(resolution_subquery(start, end, team).c.first_resolved, C.c.resolved_at)

    if majors_limit == 0:
        return out
    S = Staff.__table__
    rows = await run(session, select(C.c.number, C.c.created_at, C.c.category, C.c.location, S.c.name,
                                     C.c.major_reply_by, C.c.major_replied_at, C.c.major_resolve_by, C.c.status,
                                     first.label("first_resolved"))
                     .select_from(C.outerjoin(S, S.c.id == C.c.major_owner_id))
                     .where(*scope(start, end, team), C.c.major.is_(True)).order_by(C.c.created_at, C.c.id)
                     .limit(majors_limit))
    def aware(value):
        return UTCDateTime().process_result_value(value, session.bind.dialect) if value is not None else None

    out.majors = [MajorRow(r.number, aware(r.created_at), r.category, r.location, r.name, aware(r.major_reply_by),
                           aware(r.major_replied_at), aware(r.major_resolve_by), r.status, aware(r.first_resolved))
                  for r in rows.all()]
    return out
