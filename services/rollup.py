"""The month's figures as sums per key, read from the per-day roll-up (migration 0017).

A month of a million tickets is summed from a few thousand roll-up rows instead of scanning the
tickets. The roll-up tables hold, per day of filing and per key (``GRAINS``), the measures of
``Sums`` (definitions in the migration 0017 docstring); triggers on ``complaint`` keep them in the
same transaction as every write. The roll-up's days are those of UTC+8 (``report_rollup_meta``
``day_offset``), so a month in Asia/Shanghai is whole roll-up days. A month ``[start, end)`` is:

- the whole roll-up days inside it, from the roll-up;
- the hours before the first and after the last whole day (none in Asia/Shanghai; a month in
  UTC has 8 and 16), counted from the tickets directly (``created_at`` index);
- less, for the whole days, the tickets whose deadline is not past at ``as_of`` (what depends on
  the clock is not kept): read from the partial indexes over the unaccepted and the unsettled
  tickets alone, a few thousand for a finished month.

``rollup=False`` counts everything from the tickets (the same definitions, one GROUP BY): the tests
compare both, and the building breakdown falls back to it when the building rule (the
vocabulary's markers) is no longer the one the triggers were made with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Column, Date, Float, Integer, MetaData, String, Table, and_, case, func, literal_column, or_
from sqlalchemy import select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.stats import C, INVALID, OPEN, MonthStats, building_expr, run

log = logging.getLogger(__name__)

MEASURES = ("n", "major", "resp_ok", "resp_done", "resp_wait", "res_ok", "res_done", "res_wait", "open_due",
            "resolved", "reopened", "reopen_events", "res_seconds")
GRAINS = {
    "ticket": ("team_id", "category", "severity", "status", "channel", "kind"),
    "building": ("team_id", "building"),
    "staff": ("team_id", "assignee_id"),
}
_metadata = MetaData()


def _table(name: str, keys: tuple[str, ...]) -> Table:
    columns = [Column("day", Date), Column("team_id", Integer)]
    columns += [Column(k, Integer if k == "assignee_id" else String) for k in keys[1:]]
    columns += [Column(m, Float if m == "res_seconds" else Integer) for m in MEASURES]
    return Table(name, _metadata, *columns)


TABLES = {grain: _table(f"report_day_{grain}", keys) for grain, keys in GRAINS.items()}
META = Table("report_rollup_meta", _metadata, Column("name", String), Column("value", String))


class seconds_between(FunctionElement):
    """Seconds from the first timestamp to the second (SQLite: julianday; PostgreSQL: epoch)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"((julianday({compiler.process(b, **kw)}) - julianday({compiler.process(a, **kw)})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(b, **kw)} - {compiler.process(a, **kw)}))"


@dataclass
class Sums:
    """The measures of one key over the month, and the clock-dependent corrections."""

    n: int = 0
    major: int = 0
    resp_ok: int = 0
    resp_done: int = 0
    resp_wait: int = 0
    res_ok: int = 0
    res_done: int = 0
    res_wait: int = 0
    open_due: int = 0
    resolved: int = 0
    reopened: int = 0
    reopen_events: int = 0
    res_seconds: float = 0.0
    resp_later: int = 0  # waiting for acceptance, respond_by not past at as_of
    res_later: int = 0  # never resolved, resolve_by not past
    open_later: int = 0  # open, resolve_by not past

    @property
    def response_due(self) -> int:
        return self.resp_done + self.resp_wait - self.resp_later

    @property
    def resolution_due(self) -> int:
        return self.res_done + self.res_wait - self.res_later

    @property
    def overdue_open(self) -> int:
        return self.open_due - self.open_later

    def add(self, values: dict) -> None:
        for name, value in values.items():
            if value:
                setattr(self, name, getattr(self, name) + (float(value) if name == "res_seconds" else int(value)))


SUM_FIELDS = tuple(f.name for f in fields(Sums))


def building_sql(dialect) -> str:
    """The building rule as the triggers compute it (``NEW.location``), as SQL text."""
    return str(building_expr(literal_column("NEW.location")).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}))


def _key_columns(grain: str) -> list:
    exprs = {"team_id": func.coalesce(C.c.team_id, 0), "assignee_id": func.coalesce(C.c.assignee_id, 0),
             "building": building_expr()}
    return [exprs.get(k, C.c[k] if k in C.c else None).label(k) for k in GRAINS[grain]]


def _flag(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _direct_measures(as_of: datetime) -> list:
    """The roll-up's measures and the clock-dependent ones, as aggregates over ``complaint``."""
    valid = C.c.status.notin_(INVALID)
    first = func.coalesce(literal_column("complaint.first_resolved_at"), C.c.resolved_at)
    reopens = func.coalesce(literal_column("complaint.reopens"), 0)
    rb, acc, sb = C.c.respond_by, C.c.accepted_at, C.c.resolve_by
    opened = C.c.status.in_(OPEN)
    return [
        func.count().label("n"),
        _flag(C.c.major.is_(True)).label("major"),
        _flag(and_(valid, rb.is_not(None), acc.is_not(None), acc <= rb)).label("resp_ok"),
        _flag(and_(valid, rb.is_not(None), acc.is_not(None))).label("resp_done"),
        _flag(and_(valid, rb.is_not(None), acc.is_(None))).label("resp_wait"),
        _flag(and_(valid, sb.is_not(None), first.is_not(None), first <= sb)).label("res_ok"),
        _flag(and_(valid, sb.is_not(None), first.is_not(None))).label("res_done"),
        _flag(and_(valid, sb.is_not(None), first.is_(None))).label("res_wait"),
        _flag(and_(opened, sb.is_not(None))).label("open_due"),
        _flag(first.is_not(None)).label("resolved"),
        _flag(reopens > 0).label("reopened"),
        func.coalesce(func.sum(reopens), 0).label("reopen_events"),
        func.coalesce(func.sum(case((first.is_not(None), seconds_between(C.c.created_at, first)), else_=0)),
                      0).label("res_seconds"),
        *_later_measures(as_of),
    ]


def _later_measures(as_of: datetime) -> list:
    """What is not due yet at ``as_of`` (subtracted from the waiting counts)."""
    valid = C.c.status.notin_(INVALID)
    first = func.coalesce(literal_column("complaint.first_resolved_at"), C.c.resolved_at)
    rb, acc, sb = C.c.respond_by, C.c.accepted_at, C.c.resolve_by
    return [
        _flag(and_(valid, acc.is_(None), rb >= as_of)).label("resp_later"),
        _flag(and_(valid, first.is_(None), sb >= as_of)).label("res_later"),
        _flag(and_(C.c.status.in_(OPEN), sb >= as_of)).label("open_later"),
    ]


def _in(start: datetime, end: datetime):
    return and_(C.c.created_at >= start, C.c.created_at < end)


def _team(column, team_id: int | None) -> list:
    return [] if team_id is None else [column == team_id]


def whole_days(start: datetime, end: datetime, offset: timedelta) -> tuple[datetime, datetime] | None:
    """The roll-up days (days of UTC + ``offset``) inside ``[start, end)`` as UTC instants
    ``[first day's start, last day's end)``, or None."""
    first = datetime.combine((start + offset).date(), time(), UTC) - offset
    if first < start:
        first += timedelta(days=1)
    last = datetime.combine((end + offset).date(), time(), UTC) - offset
    return (first, last) if first < last else None


def day_of(moment: datetime, offset: timedelta):
    """The roll-up day that starts at ``moment``."""
    return (moment.astimezone(UTC) + offset).date()


def _collect(out: dict, rows, keys: tuple[str, ...]) -> None:
    """Add each row's measures to ``out[key]``."""
    for row in rows.mappings():
        key = tuple(row[k] for k in keys)
        out.setdefault(key, Sums()).add({name: row[name] for name in SUM_FIELDS if name in row})


async def rollup_frame(session: AsyncSession, grain: str) -> timedelta | None:
    """The roll-up days' offset from UTC, or None when the roll-up cannot serve ``grain``: the
    building rule changed since the triggers were made (they would group by the old rule)."""
    meta = dict((await run(session, select(META.c.name, META.c.value))).all())
    if "day_offset" not in meta:
        return None
    if grain == "building" and meta.get("building") != building_sql(session.bind.dialect):
        log.warning("the report's building rule changed since migration 0017: buildings counted from the tickets")
        return None
    return timedelta(minutes=int(meta["day_offset"]))


async def month_sums(session: AsyncSession, stats: MonthStats, grain: str, *,
                     rollup: bool = True) -> dict[tuple, Sums]:
    """The month's ``Sums`` per key of ``grain`` (``GRAINS``; a missing team or assignee is None),
    with ``stats.team_id``'s scope and ``stats.as_of``'s clock. Keys without tickets are left out."""
    keys = GRAINS[grain]
    start, end, team_id, as_of = stats.start, stats.end, stats.team_id, stats.as_of
    offset = await rollup_frame(session, grain) if rollup else None
    days = whole_days(start, end, offset) if offset is not None else None
    key_columns = _key_columns(grain)
    out: dict[tuple, Sums] = {}

    def direct(*where):
        return (select(*key_columns, *_direct_measures(as_of)).where(*where, *_team(C.c.team_id, team_id))
                .group_by(*key_columns))

    if days is None:
        _collect(out, await run(session, direct(_in(start, end))), keys)
    else:
        first, last = days
        # the hours outside the roll-up's whole days (none for a month in Asia/Shanghai), from the tickets
        edges = [r for r in ((start, first), (last, end)) if r[0] < r[1]]
        if edges:
            _collect(out, await run(session, direct(or_(*(_in(a, b) for a, b in edges)))), keys)
        # the whole days, from the roll-up
        table = TABLES[grain]
        rolled = (select(*(table.c[k] for k in keys), *(func.sum(table.c[m]).label(m) for m in MEASURES))
                  .where(table.c.day >= day_of(first, offset), table.c.day < day_of(last, offset),
                         *_team(table.c.team_id, team_id))
                  .group_by(*(table.c[k] for k in keys)))
        _collect(out, await run(session, rolled), keys)
        # less what is not due yet at as_of, from the two partial indexes alone (their conditions
        # spelled as in 0017; PostgreSQL: the columns read are in the indexes)
        valid = C.c.status.notin_(INVALID)
        first_resolved = func.coalesce(literal_column("complaint.first_resolved_at"), C.c.resolved_at)
        unaccepted = (select(*key_columns, _flag(valid).label("resp_later"))
                      .where(_in(first, last), text("complaint.accepted_at IS NULL"), C.c.respond_by >= as_of,
                             *_team(C.c.team_id, team_id)).group_by(*key_columns))
        _collect(out, await run(session, unaccepted), keys)
        unsettled = (select(*key_columns, _flag(and_(valid, first_resolved.is_(None))).label("res_later"),
                            _flag(C.c.status.in_(OPEN)).label("open_later"))
                     .where(_in(first, last), C.c.resolve_by >= as_of,
                            text(f"(complaint.status IN {_sql_list(OPEN)} OR complaint.first_resolved_at IS NULL)"),
                            *_team(C.c.team_id, team_id)).group_by(*key_columns))
        _collect(out, await run(session, unsettled), keys)
    result = {}
    for key, sums in out.items():
        if sums.n:
            result[tuple(None if k in ("team_id", "assignee_id") and v == 0 else v
                         for k, v in zip(keys, key, strict=True))] = sums
    return result


def _sql_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


async def daily_counts(session: AsyncSession, stats: MonthStats, days: list[tuple]) -> list[int] | None:
    """Tickets per local day (``days``: (date, UTC start) of each local day of the month) from the
    roll-up, or None when the local days are not roll-up days (another time zone)."""
    offset = await rollup_frame(session, "ticket")
    if offset is None or not days:
        return None
    starts = [utc_start for _, utc_start in days] + [stats.end]
    if any((moment.astimezone(UTC) + offset).time() != time() for moment in starts):
        return None
    table = TABLES["ticket"]
    query = (select(table.c.day, func.sum(table.c.n))
             .where(table.c.day >= day_of(starts[0], offset), table.c.day < day_of(stats.end, offset),
                    *_team(table.c.team_id, stats.team_id))
             .group_by(table.c.day))
    counts = {day: int(n or 0) for day, n in (await run(session, query)).all()}
    return [counts.get(day_of(utc_start, offset), 0) for _, utc_start in days]


ROUNDS = Table("report_day_round", _metadata, Column("day", Date), Column("team_id", Integer),
               Column("assignee_id", Integer), Column("status", String), Column("rating", Integer),
               Column("n", Integer))


async def round_counts(session: AsyncSession, stats: MonthStats, *, rollup: bool = True) -> dict[tuple, int]:
    """Callback rounds whose first attempt fell due in ``[start, as_of)`` (``services.stats``), counted
    per (ticket's assignee, round status, rating) with ``stats.team_id``'s scope: whole roll-up days
    from ``report_day_round``, the rest from the rounds themselves."""
    from services.stats import A, R

    start, as_of, team_id = stats.start, stats.as_of, stats.team_id
    offset = await rollup_frame(session, "round") if rollup else None
    days = whole_days(start, as_of, offset) if offset is not None else None
    ranges = [(start, as_of)] if days is None else [r for r in ((start, days[0]), (days[1], as_of)) if r[0] < r[1]]
    out: dict[tuple, int] = {}

    def add(rows) -> None:
        for assignee, status, rating, n in rows:
            key = (assignee or None, status, None if rating is None or rating < 0 else int(rating))
            out[key] = out.get(key, 0) + int(n or 0)

    if ranges:
        first_due = select(A.c.round_id).where(A.c.attempt_no == 1,
                                               or_(*(and_(A.c.due_at >= a, A.c.due_at < b) for a, b in ranges)))
        assignee = func.coalesce(C.c.assignee_id, 0)
        direct = (select(assignee, R.c.status, R.c.rating, func.count())
                  .select_from(R.join(C, C.c.id == R.c.complaint_id))
                  .where(R.c.id.in_(first_due), *_team(C.c.team_id, team_id))
                  .group_by(assignee, R.c.status, R.c.rating))
        add((await run(session, direct)).all())
    if days is not None:
        rolled = (select(ROUNDS.c.assignee_id, ROUNDS.c.status, ROUNDS.c.rating, func.sum(ROUNDS.c.n))
                  .where(ROUNDS.c.day >= day_of(days[0], offset), ROUNDS.c.day < day_of(days[1], offset),
                         *_team(ROUNDS.c.team_id, team_id))
                  .group_by(ROUNDS.c.assignee_id, ROUNDS.c.status, ROUNDS.c.rating))
        add((await run(session, rolled)).all())
    return {key: n for key, n in out.items() if n}
