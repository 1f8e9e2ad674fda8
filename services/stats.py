"""Monthly figures (月度统计) for /stats and the monthly report, computed in the database.

The ticket figures are sums of a per-day roll-up kept by triggers at every write
(``services.rollup``, migration 0017), so a month of a million tickets is a few thousand rows;
``rollup=False`` gives the same figures from one GROUP BY over the month's tickets. Definitions:

Month
    A local calendar month in ``tz`` (default Asia/Shanghai). Its UTC bounds ``[start, end)`` are
    computed in Python; a ticket belongs to the month in which it was *created* (local time).
    ``as_of`` = min(now, end): the clock used for "is it due yet" questions, so the current
    month is judged "so far" and a past month as at its last instant.
Scope
    ``team_id`` restricts everything to tickets whose *current* team is that team (a supervisor's
    view); ``None`` is the whole desk.
Counts
    By category, severity and status: the month's tickets by their *current* values.
Valid tickets
    Tickets not cancelled and not invalid; only these enter the two timeliness rates.
On-time response (响应及时率)
    Among valid tickets with ``respond_by``: due = accepted (``accepted_at``, the first
    acceptance) or not accepted and ``respond_by < as_of``; on time = ``accepted_at <= respond_by``.
    A ticket not yet accepted whose deadline has not come is not counted yet.
On-time resolution (处理及时率)
    Judged on the *first* resolution: the earliest event moving the ticket to ``resolved``
    (``complaint.resolved_at`` holds the latest one; it is the fallback when no event exists).
    A ticket reopened twice is still one ticket with one first resolution, so it counts once;
    reopens are reported separately (重开工单). Among valid tickets with ``resolve_by``: due =
    resolved at least once, or never resolved and ``resolve_by < as_of`` (an overdue ticket
    that nobody resolved is *late*, not "not counted"); on time = first resolution <= ``resolve_by``.
Reopened
    Tickets with at least one event whose ``to_status`` is ``reopened`` (counted once each);
    ``reopen_events`` is the number of such events.
Callback rate (回访率)
    A callback round belongs to the month in which its *first attempt was due* (local month,
    and due before ``as_of``), whatever month its ticket was created in. Rounds due = such
    rounds that were not skipped (anonymous, no contact, inquiry …); answered = those with
    status ``answered``. Unreachable rounds and rounds still open (waiting for an answer) are
    due but not answered. Skipped rounds (免回访) are counted apart, by the round's opening time.
Satisfaction (满意度)
    The ratings of the answered rounds above, each answered round once (a ticket reopened and
    rated again contributes both verdicts). Rating 0 ("问题未解决") is counted as 1 in the
    average (the worst verdict) and is shown separately in the distribution. ``satisfied`` =
    share of ratings >= 4 among all answered ratings (0 included in the denominator).
Open past deadline (超期未办结)
    The month's tickets that are open now (new/assigned/accepted/reopened) with
    ``resolve_by < as_of``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, Team
from models.types import UTCDateTime, utcnow
from services.domain import Category, Severity, Status
from services.vocabulary import vocabulary

C = Complaint.__table__
E = ComplaintEvent.__table__
R = CallbackRound.__table__
A = CallbackAttempt.__table__

OPEN = tuple(s.value for s in (Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED))
INVALID = (Status.CANCELLED.value, Status.INVALID.value)
MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
RATING_KEYS = (0, 1, 2, 3, 4, 5)


# ---------------------------------------------------------------------------------------------
# Month arithmetic


def parse_month(month: str) -> tuple[int, int]:
    """``"2026-10"`` → (2026, 10); ValueError for anything else (``"2026-13"``, ``"10/2026"``)."""
    match = MONTH_RE.match(month or "")
    if not match:
        raise ValueError(f"a month is written YYYY-MM, e.g. 2026-10 (got {month!r})")
    year, mon = int(match.group(1)), int(match.group(2))
    if not 1 <= mon <= 12 or not 1970 <= year <= 9998:
        raise ValueError(f"no such month: {month!r}")
    return year, mon


def month_key(year: int, mon: int) -> str:
    return f"{year:04d}-{mon:02d}"


def previous_month(month: str) -> str:
    year, mon = parse_month(month)
    return month_key(year - 1, 12) if mon == 1 else month_key(year, mon - 1)


def next_month(month: str) -> str:
    year, mon = parse_month(month)
    return month_key(year + 1, 1) if mon == 12 else month_key(year, mon + 1)


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the local calendar month."""
    year, mon = parse_month(month)
    nyear, nmon = parse_month(next_month(month))
    start = datetime(year, mon, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(nyear, nmon, 1, tzinfo=tz).astimezone(UTC)
    return start, end


def current_month(tz: ZoneInfo, now: datetime | None = None) -> str:
    local = (now or utcnow()).astimezone(tz)
    return month_key(local.year, local.month)


# ---------------------------------------------------------------------------------------------
# SQL helpers shared with the report


class strpos(FunctionElement):
    """1-based position of a substring, 0 when absent: ``instr`` on SQLite, ``strpos`` on PostgreSQL."""

    type = Integer()
    inherit_cache = True


@compiles(strpos)
def _strpos_default(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(strpos, "postgresql")
def _strpos_pg(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


def building_expr(location=None):
    """Building / area of a free-text location, as one SQL expression (both backends).

    Rule, first that applies (the marker must be at character 2..6, so "3栋", "12号楼", "A座",
    "二期5栋" are found but a "栋" deep inside a description is not):
    - ``…栋`` → the prefix up to and including 栋 ("3栋2单元501" → "3栋");
    - ``…号楼`` / ``…幢`` → the same prefix spelled with 栋 ("3号楼501" → "3栋"), so both ways of
      writing a building group together;
    - ``…座`` → the prefix up to 座 ("A座1202" → "A座");
    - otherwise an area: the first 4 characters ("地下车库B2区" → "地下车库", "小区北门" → "小区北门");
    - empty → "" (the front end shows "not given");
    the markers and the canonical spelling are input vocabulary (``[address]`` in vocabulary.toml).
    """
    loc = func.trim(location if location is not None else C.c.location)
    address = vocabulary()["address"]
    canonical = address.get("same_building", {})
    cases = [(func.length(loc) == 0, "")]
    for marker in address["report_building_markers"]:
        pos = strpos(loc, marker)
        inside = and_(pos >= 2, pos <= 6)
        if canonical.get(marker, marker) == marker:
            cases.append((inside, func.substr(loc, 1, pos + len(marker) - 1)))
        else:
            cases.append((inside, func.substr(loc, 1, pos - 1).concat(canonical[marker])))
    return case(*cases, else_=func.substr(loc, 1, 4))


def scope(start: datetime, end: datetime, team_id: int | None, valid: bool | None = None) -> list:
    """WHERE conditions selecting the tickets of ``[start, end)`` (and of one team; ``valid`` True =
    valid complaints only, False = 无效投诉 only, None = both)."""
    conditions = [C.c.created_at >= start, C.c.created_at < end]
    if team_id is not None:
        conditions.append(C.c.team_id == team_id)
    if valid is not None:
        conditions.append((C.c.status != Status.INVALID.value) if valid else (C.c.status == Status.INVALID.value))
    return conditions


class _Resolution:
    """Per ticket: first resolution time and number of reopens, as columns of ``complaint`` itself.

    Kept at write time by a trigger on the event log (migration 0016): ``first_resolved_at`` is the
    earliest event moving the ticket to ``resolved``, ``reopens`` the number of events moving it to
    ``reopened``. Not in the ORM model (only the figures read them). Reading them costs no join."""

    class c:  # noqa: N801 - reads like a subquery's columns: ev.c.first_resolved
        first_resolved = literal_column("complaint.first_resolved_at", UTCDateTime())
        reopens = literal_column("complaint.reopens", Integer())


def resolution_subquery(start: datetime | None = None, end: datetime | None = None, team_id: int | None = None):
    """Per ticket of the month: first resolution time and number of reopens (``ev.c.first_resolved``,
    ``ev.c.reopens``: columns of ``complaint``, no join needed; the arguments are kept for callers)."""
    return _Resolution


def timeliness_columns(ev, as_of: datetime) -> dict:
    """Boolean SQL expressions per ticket: response/resolution due and on time, overdue open."""
    valid = C.c.status.notin_(INVALID)
    first_resolved = func.coalesce(ev.c.first_resolved, C.c.resolved_at)
    return {
        "first_resolved": first_resolved,
        "response_due": and_(valid, C.c.respond_by.is_not(None),
                             or_(C.c.accepted_at.is_not(None), C.c.respond_by < as_of)),
        "response_ok": and_(valid, C.c.respond_by.is_not(None), C.c.accepted_at.is_not(None),
                            C.c.accepted_at <= C.c.respond_by),
        "resolution_due": and_(valid, C.c.resolve_by.is_not(None),
                               or_(first_resolved.is_not(None), C.c.resolve_by < as_of)),
        "resolution_ok": and_(valid, C.c.resolve_by.is_not(None), first_resolved.is_not(None),
                              first_resolved <= C.c.resolve_by),
        "overdue_open": and_(C.c.status.in_(OPEN), C.c.resolve_by.is_not(None), C.c.resolve_by < as_of),
    }


async def run(session: AsyncSession, statement):
    """Execute a Core statement on the session's connection (same transaction as the session)."""
    return await (await session.connection()).execute(statement)


def count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def rounds_due_condition(start: datetime, due_end: datetime):
    """Rounds whose first attempt was due in ``[start, due_end)``."""
    first_due = select(A.c.round_id).where(A.c.attempt_no == 1, A.c.due_at >= start, A.c.due_at < due_end)
    return R.c.id.in_(first_due)


# ---------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator``; ``value`` is None when nothing was due."""

    numerator: int = 0
    denominator: int = 0

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass
class MonthStats:
    month: str
    tz: str
    team_id: int | None
    team_name: str | None
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    as_of: datetime  # UTC; = end for a finished month
    total: int = 0
    invalid: int = 0  # 无效投诉 among ``total`` (counted apart; see ``valid``)
    by_category: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_category_severity: dict[tuple[str, str], int] = field(default_factory=dict)
    major: int = 0
    response: Rate = Rate()
    resolution: Rate = Rate()
    reopened: int = 0  # tickets reopened at least once
    reopen_events: int = 0
    overdue_open: int = 0
    overdue_numbers: list[str] = field(default_factory=list)  # a few, most overdue first
    callback: Rate = Rate()  # answered / due
    callback_unreachable: int = 0
    callback_open: int = 0
    callback_skipped: int = 0
    ratings: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RATING_KEYS, 0))
    satisfied: Rate = Rate()  # ratings >= 4 / ratings
    # (rollup?, services.rollup.month_sums(…, "ticket")): reused by the report's other figures
    ticket_sums: tuple[bool, dict] | None = field(default=None, repr=False, compare=False)

    @property
    def partial(self) -> bool:
        """True while the month is not over (figures "so far")."""
        return self.as_of < self.end

    @property
    def valid(self) -> int:
        """有效投诉: the tickets of the month not marked invalid."""
        return self.total - self.invalid

    @property
    def rating_count(self) -> int:
        return sum(self.ratings.values())

    @property
    def rating_average(self) -> float | None:
        """Average rating, "not solved" (0) counted as 1."""
        n = self.rating_count
        if not n:
            return None
        return sum(max(r, 1) * k for r, k in self.ratings.items()) / n


async def month_stats(session: AsyncSession, *, month: str, tz: ZoneInfo, team_id: int | None = None,
                      now: datetime | None = None, valid: bool | None = None, rollup: bool = True) -> MonthStats:
    """All figures of one month (see the module docstring for the definitions); ``valid`` True counts
    valid complaints only (``scope``); ``rollup=False`` counts from the tickets alone (no roll-up)."""
    start, end = month_bounds(month, tz)
    now = now or utcnow()
    as_of = min(max(now, start), end)
    team_name = None
    if team_id is not None:
        team_name = (await run(session, select(Team.name).where(Team.id == team_id))).scalar_one_or_none()
    stats = MonthStats(month=month_key(*parse_month(month)), tz=str(tz.key), team_id=team_id,
                       team_name=team_name, start=start, end=end, as_of=as_of)

    # 1. Tickets: sums per (team, category, severity, status, channel, kind) from the per-day
    # roll-up (services.rollup; ``rollup=False``: one GROUP BY over the month's tickets)
    from services.rollup import month_sums

    by_category: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_cat_sev: Counter[tuple[str, str]] = Counter()
    sums = Counter()
    stats.ticket_sums = (rollup, await month_sums(session, stats, "ticket", rollup=rollup))
    for (_team, category, severity, status, _channel, _kind), s in stats.ticket_sums[1].items():
        if valid is not None and (status != Status.INVALID.value) != valid:
            continue
        by_category[category] += s.n
        by_severity[severity] += s.n
        by_status[status] += s.n
        by_cat_sev[(category, severity)] += s.n
        sums["major"] += s.major
        sums["response_due"] += s.response_due
        sums["response_ok"] += s.resp_ok
        sums["resolution_due"] += s.resolution_due
        sums["resolution_ok"] += s.res_ok
        sums["reopened"] += s.reopened
        sums["reopen_events"] += s.reopen_events
        sums["overdue_open"] += s.overdue_open
    stats.total = sum(by_category.values())
    stats.invalid = by_status.get(Status.INVALID.value, 0)
    stats.by_category = _ordered(by_category, [c.value for c in Category])
    stats.by_severity = _ordered(by_severity, [s.value for s in Severity])
    stats.by_status = _ordered(by_status, [s.value for s in Status])
    stats.by_category_severity = dict(by_cat_sev)
    stats.major = sums["major"]
    stats.response = Rate(sums["response_ok"], sums["response_due"])
    stats.resolution = Rate(sums["resolution_ok"], sums["resolution_due"])
    stats.reopened, stats.reopen_events = sums["reopened"], sums["reopen_events"]
    stats.overdue_open = sums["overdue_open"]
    if stats.overdue_open:
        t = timeliness_columns(resolution_subquery(start, end, team_id), as_of)
        numbers = (
            select(C.c.number).where(*scope(start, end, team_id, valid), t["overdue_open"])
            .order_by(C.c.resolve_by, C.c.id).limit(5)
        )
        stats.overdue_numbers = list((await run(session, numbers)).scalars())

    # 2. Callback rounds whose first attempt was due this month (the roll-up's report_day_round).
    from services.rollup import round_counts

    answered = due = 0
    for (_assignee, status, rating), n in (await round_counts(session, stats, rollup=rollup)).items():
        if status == "skipped":
            continue
        due += n
        if status == "answered":
            answered += n
            if rating is not None and int(rating) in stats.ratings:
                stats.ratings[int(rating)] += n
        elif status == "unreachable":
            stats.callback_unreachable += n
        elif status == "open":
            stats.callback_open += n
    stats.callback = Rate(answered, due)
    stats.satisfied = Rate(stats.ratings[4] + stats.ratings[5], stats.rating_count)
    team_condition = [C.c.team_id == team_id] if team_id is not None else []
    rounds_from = R.join(C, C.c.id == R.c.complaint_id) if team_id is not None else R  # the ticket for its team
    skipped = (
        select(func.count()).select_from(rounds_from)
        .where(R.c.status == "skipped", R.c.opened_at >= start, R.c.opened_at < as_of, *team_condition)
    )
    stats.callback_skipped = int((await run(session, skipped)).scalar_one())
    return stats


def _ordered(counter: Counter, order: list[str]) -> dict[str, int]:
    """Known keys in domain order (only those present), then any unknown ones."""
    out = {key: counter[key] for key in order if counter.get(key)}
    out.update({key: n for key, n in sorted(counter.items()) if key not in out and n})
    return out


async def compare(session: AsyncSession, *, month: str, tz: ZoneInfo, team_id: int | None = None,
                  now: datetime | None = None, valid: bool | None = None,
                  rollup: bool = True) -> tuple[MonthStats, MonthStats]:
    """(month, previous month); the previous month is complete unless ``now`` is inside it."""
    current = await month_stats(session, month=month, tz=tz, team_id=team_id, now=now, valid=valid, rollup=rollup)
    previous = await month_stats(session, month=previous_month(month), tz=tz, team_id=team_id, now=now, valid=valid,
                                 rollup=rollup)
    return current, previous
