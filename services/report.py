"""The monthly report (月度报表): an .xlsx workbook (openpyxl) plus three PNG charts.

Every word in the workbook and the charts comes from the caller's ``text`` (a catalogue lookup
``text(key, **params)`` in the recipient's language: ``report.*``, labels of codes), so a manager
reading in English gets English sheets. Sheets (widths set; header row frozen; numbers stored as
numbers; rates as fractions with the ``0.0%`` format), named here as in Simplified Chinese:

- 汇总: every figure of ``services.stats.MonthStats`` for the month and the previous month, and
  the change (counts: difference; rates: percentage points, shown as ``+1.5%``);
- 分类×级别: tickets by category × severity with totals and shares;
- 楼栋区域: by building / area (rule in ``services.stats.building_expr``), with on-time
  resolution and open-past-deadline counts;
- 人员: by current assignee: tickets handled, resolved, on time, timeliness rates, ratings;
- 重复问题TOP3: the three most recurring matters. Each ticket's *primary keyword* is its
  highest-weight keyword that voted for its own category (``keywords[].target ==
  "category:<category>"``, weight > 0); a matter is (category, primary keyword). Counts are
  distinct tickets (a ticket belongs to one matter only); "共同关键词" lists the other keywords
  most often found in the same tickets; three latest ticket numbers are given as examples.
  Tickets without such a keyword belong to no matter. Computed in SQL: on PostgreSQL from the
  generated columns ``matter_term`` / ``matter_others`` (migration 0016) and their index, on
  SQLite with ``json_each`` per ticket;
- 工单明细: the month's first tickets, streamed from the database (at most ``list_rows``, default
  ``TICKET_LIST_LIMIT`` = 10,000, setting ``report_list_rows``, env ``REPORT_LIST_ROWS``); when the
  month has more, a note row says so and that the whole list is in the CSV (:func:`ticket_csv`:
  every ticket of the month, same columns, streamed through a server-side cursor, UTF-8 with BOM);
- 图表: the three charts, embedded.

The summary, the breakdowns by category, building and person and the special figures are sums
read from the per-day roll-up kept by triggers (``services.rollup``, migration 0017): a few
thousand rows for a month of a million tickets, plus the hours of the month outside whole UTC days
and the tickets whose deadline is still ahead, counted from the tickets. The majors sheet keeps the
first ``MAJOR_ROWS`` (the CSV marks every major). The charts are drawn in a thread while the
database answers. Only the ticket list streams rows. The workbook is written in openpyxl's
write-only mode so memory stays flat for large months.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.drawing.image import Image as XlImage
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import bindparam, case, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Staff, Team
from models.types import UTCDateTime, utcnow
from services import charts, report_figures, review
from services import rollup as rollup_sums
from services.domain import Category, Kind, Severity, Status
from services.stats import (
    C,
    MonthStats,
    R,
    Rate,
    building_expr,
    compare,
    month_bounds,
    parse_month,
    resolution_subquery,
    run,
    scope,
    timeliness_columns,
)

Text = Callable[..., str]
"""``text(key, **params)``: a catalogue message in the recipient's language."""

TICKET_LIST_LIMIT = 10_000  # rows of the list sheet by default (setting ``report_list_rows``); the CSV has all
EXCEL_ROWS = 1_048_575 - 2  # Excel's row limit, less the header and the note row
CSV_BATCH = 2000  # rows fetched (server-side cursor) and written per CSV chunk
BUILDING_ROWS = 300  # the rest is summed into one row
MAJOR_ROWS = 1000  # rows of the majors sheet (a month with more says so; the CSV marks every major)

PCT = "0.0%"
PCT_CHANGE = "+0.0%;-0.0%;0.0%"
INT = "0"
INT_CHANGE = "+0;-0;0"
DEC = "0.00"
DATETIME = "yyyy-mm-dd hh:mm"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="3B6EA8")
BOLD = Font(bold=True)


@dataclass
class ReportFiles:
    xlsx: Path
    charts: list[Path]
    summary: MonthStats


# ---------------------------------------------------------------------------------------------
# Queries


@dataclass
class GroupRow:
    key: str  # building / area or person; "" for a missing location or no assignee
    team: str | None
    n: int
    resolved: int
    response: Rate
    resolution: Rate
    overdue_open: int
    reopened: int
    ratings: int = 0
    rating_avg: float | None = None
    others: int = 0  # > 0: the row sums this many smaller buildings


def _group_row(key: str, team: str | None, s) -> GroupRow:
    return GroupRow(key=key, team=team, n=s.n, resolved=s.resolved, response=Rate(s.resp_ok, s.response_due),
                    resolution=Rate(s.res_ok, s.resolution_due), overdue_open=s.overdue_open, reopened=s.reopened)


async def by_building(session: AsyncSession, stats: MonthStats, *, rollup: bool = True) -> list[GroupRow]:
    """Per building / area (``services.stats.building_expr``), from the roll-up (``services.rollup``)."""
    merged: dict[str, rollup_sums.Sums] = {}
    for (_team, building), s in (await rollup_sums.month_sums(session, stats, "building", rollup=rollup)).items():
        merged.setdefault(building, rollup_sums.Sums()).add({f: getattr(s, f) for f in rollup_sums.SUM_FIELDS})
    rows = [_group_row(building, None, s) for building, s in merged.items()]
    rows.sort(key=lambda g: (-g.n, g.key))
    if len(rows) > BUILDING_ROWS:
        rest = rows[BUILDING_ROWS - 1:]
        rows = rows[:BUILDING_ROWS - 1] + [GroupRow(
            key="", others=len(rest), team=None, n=sum(r.n for r in rest),
            resolved=sum(r.resolved for r in rest),
            response=Rate(sum(r.response.numerator for r in rest), sum(r.response.denominator for r in rest)),
            resolution=Rate(sum(r.resolution.numerator for r in rest), sum(r.resolution.denominator for r in rest)),
            overdue_open=sum(r.overdue_open for r in rest), reopened=sum(r.reopened for r in rest))]
    return rows


async def by_staff(session: AsyncSession, stats: MonthStats, *, rollup: bool = True) -> list[GroupRow]:
    """Per current assignee (from the roll-up); ratings are those of the month's callback rounds (see stats)."""
    S, T = Staff.__table__, Team.__table__
    counts: dict[int | None, rollup_sums.Sums] = {}
    for (_team, staff_id), s in (await rollup_sums.month_sums(session, stats, "staff", rollup=rollup)).items():
        counts.setdefault(staff_id, rollup_sums.Sums()).add({f: getattr(s, f) for f in rollup_sums.SUM_FIELDS})
    totals: dict[int | None, list[int]] = {}  # answered rounds with a rating: [count, sum] ("not solved" = 1)
    for (staff_id, status, rating), n in (await rollup_sums.round_counts(session, stats, rollup=rollup)).items():
        if status == "answered" and rating is not None:
            total = totals.setdefault(staff_id, [0, 0])
            total[0] += n
            total[1] += n * (1 if rating == 0 else rating)
    ratings = {staff_id: (n, value / n) for staff_id, (n, value) in totals.items()}
    ids = [i for i in set(counts) | set(ratings) if i is not None]
    names: dict[int, tuple[str, str | None]] = {}
    if ids:
        name_query = (select(S.c.id, S.c.name, T.c.name).select_from(S.outerjoin(T, T.c.id == S.c.team_id))
                      .where(S.c.id.in_(ids)))
        names = {r[0]: (r[1], r[2]) for r in (await run(session, name_query)).all()}
    rows = []
    for staff_id in sorted(set(counts) | set(ratings), key=lambda i: (i is None, i or 0)):
        name, team = names.get(staff_id, ("" if staff_id is None else f"#{staff_id}", None))
        n_ratings, avg = ratings.get(staff_id, (0, None))
        row = _group_row(name, team, counts.get(staff_id) or rollup_sums.Sums())
        row.ratings, row.rating_avg = n_ratings, avg
        rows.append(row)
    rows.sort(key=lambda g: (g.key == "", -g.n, g.key))
    return rows


def local_days(month: str, tz: ZoneInfo) -> list[tuple[date, datetime]]:
    """Each local day of the month with its UTC start (handles DST and odd offsets)."""
    start, end = month_bounds(month, tz)
    first = start.astimezone(tz).date()
    days = []
    day = first
    while True:
        utc_start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(start.tzinfo)
        if utc_start >= end:
            break
        days.append((day, utc_start))
        day += timedelta(days=1)
    return days


async def daily_intake(session: AsyncSession, stats: MonthStats, tz: ZoneInfo, *,
                       rollup: bool = True) -> list[tuple[date, int]]:
    """Tickets per local day: from the roll-up when its days are the local days (Asia/Shanghai),
    else a CASE over the days' UTC bounds computed in Python, grouped in SQL."""
    days = local_days(stats.month, tz)
    counts = await rollup_sums.daily_counts(session, stats, days) if rollup else None
    if counts is not None:
        return [(day, n) for (day, _), n in zip(days, counts, strict=True)]
    index = case(*[(C.c.created_at < utc_start, i) for i, (_, utc_start) in enumerate(days[1:])],
                 else_=len(days) - 1).label("day")
    query = (select(index, func.count()).where(*scope(stats.start, stats.end, stats.team_id))
             .group_by(index))
    counts = {int(i): int(n) for i, n in (await run(session, query)).all()}
    return [(day, counts.get(i, 0)) for i, (day, _) in enumerate(days)]


@dataclass
class Matter:
    category: str
    term: str
    count: int
    shared: list[tuple[str, int]]
    examples: list[str]


# Each ticket's primary keyword, as SQL over the complaint row ``c``. PostgreSQL keeps it in a stored
# generated column (migration 0016: ``huifang_primary_term``, recomputed whenever keywords or
# category change; indexed with created_at and category); SQLite computes it here, per row.
_PRIMARY_SQL = {
    "sqlite": """(SELECT json_extract(j.value, '$.term') FROM json_each(c.keywords) AS j
  WHERE json_extract(j.value, '$.target') = 'category:' || c.category
    AND CAST(json_extract(j.value, '$.weight') AS REAL) > 0
  ORDER BY CAST(json_extract(j.value, '$.weight') AS REAL) DESC, json_extract(j.value, '$.term') LIMIT 1)""",
    "postgresql": "c.matter_term",
}

# SQLite: the keyword entries of the chosen tickets ``ch``: (source, term, weight, target, joiner).
_KW_SQL = {
    "sqlite": (
        "json_each(ch.keywords) AS j",
        "json_extract(j.value, '$.term')",
        "CAST(json_extract(j.value, '$.weight') AS REAL)",
        "json_extract(j.value, '$.target')",
        ", ",
    ),
    "postgresql": (
        "LATERAL json_array_elements(ch.keywords) AS j(value)",
        "(j.value ->> 'term')",
        "CAST(j.value ->> 'weight' AS DOUBLE PRECISION)",
        "(j.value ->> 'target')",
        " CROSS JOIN ",
    ),
}


def _month_sql(team: bool) -> str:
    return "c.created_at >= :start AND c.created_at < :end" + (" AND c.team_id = :team" if team else "")


async def recurring_matters(session: AsyncSession, stats: MonthStats, limit: int = 3, *,
                            rollup: bool = True) -> list[Matter]:
    """The month's top matters: counted over the primary keywords (PostgreSQL: a generated column,
    summed per day in ``report_day_matter`` when the month is whole roll-up days, else read from its
    index), then the chosen matters' shared keywords (PostgreSQL: ``report_day_matter_other`` or the
    generated ``matter_others``; SQLite: their tickets' keywords expanded) and latest example tickets."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    dialect = dialect if dialect in _PRIMARY_SQL else "sqlite"
    primary, month = _PRIMARY_SQL[dialect], _month_sql(stats.team_id is not None)
    params: dict = {"start": stats.start, "end": stats.end}
    if stats.team_id is not None:
        params["team"] = stats.team_id
    days = None
    if rollup and dialect == "postgresql":
        offset = await rollup_sums.rollup_frame(session, "matter")
        whole = rollup_sums.whole_days(stats.start, stats.end, offset) if offset is not None else None
        if whole == (stats.start, stats.end):  # no hours outside the roll-up's days
            params["d0"], params["d1"] = rollup_sums.day_of(stats.start, offset), rollup_sums.day_of(stats.end, offset)
            days = "day >= :d0 AND day < :d1" + (" AND team_id = :team" if stats.team_id is not None else "")

    def statement(sql: str):
        return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in ("start", "end")
                                      if f":{name}" in sql))

    conn = await session.connection()
    if days:
        top_sql = f"""
SELECT category, term, SUM(n) AS n FROM report_day_matter WHERE {days}
GROUP BY category, term HAVING SUM(n) > 0 ORDER BY n DESC, category, term LIMIT :limit"""
    else:
        top_sql = f"""
SELECT category, term, COUNT(*) AS n
FROM (SELECT c.category AS category, {primary} AS term FROM complaint c WHERE {month}) AS m
WHERE term IS NOT NULL
GROUP BY category, term ORDER BY n DESC, category, term LIMIT :limit"""
    top = (await conn.execute(statement(top_sql), {**params, "limit": limit})).all()
    if not top:
        return []
    # Then for the chosen matters only: shared keywords (the ticket's other category keywords of
    # weight > 0, all but its primary entry) and the three latest example tickets of each.
    chosen = " OR ".join(f"(c.category = :c{i} AND {primary} = :t{i})" for i in range(len(top)))
    for i, (category, term, _) in enumerate(top):
        params[f"c{i}"], params[f"t{i}"] = category, term
    if days:
        pairs = " OR ".join(f"(category = :c{i} AND term = :t{i})" for i in range(len(top)))
        shared_sql = f"""
SELECT category, term, other, SUM(n) AS n FROM report_day_matter_other WHERE {days} AND ({pairs})
GROUP BY category, term, other HAVING SUM(n) >= 2"""
    elif dialect == "postgresql":  # the other keywords are kept too (matter_others), in the same index
        shared_sql = f"""
SELECT c.category, c.matter_term AS term, o.term AS other, COUNT(*) AS n
FROM complaint c CROSS JOIN LATERAL unnest(c.matter_others) AS o(term)
WHERE {month} AND ({chosen})
GROUP BY c.category, c.matter_term, o.term HAVING COUNT(*) >= 2"""
    else:
        source, term_sql, weight_sql, target_sql, joiner = _KW_SQL[dialect]
        shared_sql = f"""
WITH chosen AS (
  SELECT c.id AS id, c.category AS category, c.keywords AS keywords, {primary} AS pterm
  FROM complaint c WHERE {month} AND ({chosen})
), kw AS (
  SELECT ch.id AS id, ch.category AS category, ch.pterm AS pterm, {term_sql} AS kterm, {weight_sql} AS weight
  FROM chosen ch{joiner}{source}
  WHERE {target_sql} = 'category:' || ch.category
), ranked AS (
  SELECT category, pterm, kterm, ROW_NUMBER() OVER (PARTITION BY id ORDER BY weight DESC, kterm) AS rn
  FROM kw WHERE weight > 0
)
SELECT category, pterm AS term, kterm AS other, COUNT(*) AS n FROM ranked WHERE rn > 1
GROUP BY category, pterm, kterm HAVING COUNT(*) >= 2"""
    shared: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for category, term, other, n in (await conn.execute(statement(shared_sql), params)).all():
        shared.setdefault((category, term), []).append((other, int(n)))
    latest = " UNION ALL ".join(
        f"SELECT * FROM (SELECT {i} AS i, c.number AS number, c.created_at AS created_at, c.id AS id "
        f"FROM complaint c WHERE {month} AND c.category = :c{i} AND {primary} = :t{i} "
        f"ORDER BY c.created_at DESC, c.id DESC LIMIT 3) AS e{i}" for i in range(len(top)))
    examples: dict[tuple[str, str], list[tuple]] = {}
    for i, number, created_at, ticket_id in (await conn.execute(statement(latest), params)).all():
        examples.setdefault(tuple(top[i][:2]), []).append((created_at, ticket_id, number))
    matters = []
    for category, term, n in top:
        key = (category, term)
        co = sorted(shared.get(key, []), key=lambda x: (-x[1], x[0]))[:3]
        numbers = [number for *_, number in sorted(examples.get(key, []), reverse=True)]
        matters.append(Matter(category, term, int(n), co, numbers))
    return matters


def ticket_query(stats: MonthStats, limit: int | None = None):
    """The month's tickets in filing order, each with its timeliness, team, assignee and last rating."""
    ev = resolution_subquery(stats.start, stats.end, stats.team_id)
    t = timeliness_columns(ev, stats.as_of)
    S, T = Staff.__table__, Team.__table__
    source = C.outerjoin(T, T.c.id == C.c.team_id).outerjoin(S, S.c.id == C.c.assignee_id)
    if limit is None:  # the whole month: the last answered round of every ticket, grouped once
        last_answer = (
            select(R.c.complaint_id, func.max(R.c.id).label("round_id"))
            .select_from(R.join(C, C.c.id == R.c.complaint_id))
            .where(*scope(stats.start, stats.end, stats.team_id), R.c.status == "answered")
            .group_by(R.c.complaint_id).subquery("la")
        )
        R2 = R.alias("r2")
        rating = R2.c.rating
        source = (source.outerjoin(last_answer, last_answer.c.complaint_id == C.c.id)
                  .outerjoin(R2, R2.c.id == last_answer.c.round_id))
    else:  # the first rows only: look each one's rating up (grouping the whole month took seconds)
        rating = (select(R.c.rating).where(R.c.complaint_id == C.c.id, R.c.status == "answered")
                  .order_by(R.c.id.desc()).limit(1).correlate(C).scalar_subquery())
    return (
        select(C.c.number, C.c.created_at, C.c.category, C.c.kind, C.c.severity, C.c.status,
               C.c.location, building_expr().label("building"), T.c.name.label("team"),
               S.c.name.label("assignee"), C.c.respond_by, C.c.accepted_at,
               case((t["response_ok"], 1), (t["response_due"], 0)).label("response_ok"),
               C.c.resolve_by, t["first_resolved"].label("first_resolved"),
               case((t["resolution_ok"], 1), (t["resolution_due"], 0)).label("resolution_ok"),
               func.coalesce(ev.c.reopens, 0).label("reopens"), C.c.closed_at, rating.label("rating"), C.c.major)
        .select_from(source)
        .where(*scope(stats.start, stats.end, stats.team_id))
        .order_by(C.c.created_at, C.c.id)
        .limit(limit)
    )


# ---------------------------------------------------------------------------------------------
# Workbook


class Words:
    """The report's wording through ``text``: labels of codes, month names, headers."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __call__(self, key: str, **params) -> str:
        return self.text(key, **params)

    def month(self, month: str) -> str:
        year, mon = parse_month(month)
        return self.text("month.label", year=year, month=mon)

    def _code(self, prefix: str, enum, code: str | None) -> str:
        if code is None:
            return ""
        try:
            member = enum(code)
        except ValueError:
            return code
        return self.text(f"{prefix}.{member.name.lower()}" if prefix in ("category", "kind") else f"{prefix}.{member.value}")

    def category(self, code: str | None) -> str:
        return self._code("category", Category, code)

    def kind(self, code: str | None) -> str:
        return self._code("kind", Kind, code)

    def severity(self, code: str | None) -> str:
        return self._code("severity", Severity, code)

    def status(self, code: str | None) -> str:
        return self._code("status", Status, code)

    def rating(self, key: int) -> str:
        return self.text("report.rating_short.not_solved") if key == 0 else self.text("report.rating_short", n=key)

    def joined(self, items: Iterable[str]) -> str:
        return self.text("list_separator").join(items)

    def building(self, row: GroupRow) -> str:
        if row.others:
            return self.text("report.building_others", n=row.others)
        return row.key or self.text("report.building_unknown")

    def person(self, row: GroupRow) -> str:
        return row.key or self.text("report.unassigned")


def _cell(ws, value, fmt: str | None = None, *, bold: bool = False):
    cell = WriteOnlyCell(ws, value=value)
    if fmt:
        cell.number_format = fmt
    if bold:
        cell.font = BOLD
    return cell


def _sheet(wb: Workbook, title: str, headers: list[tuple[str, float]]):
    ws = wb.create_sheet(title)
    for i, (_, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    row = []
    for name, _ in headers:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        row.append(cell)
    ws.append(row)
    return ws


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None


SUB = "\u3000"  # an indented (detail) row of the summary


def _summary_rows(w: Words, cur: MonthStats, prev: MonthStats) -> Iterable[tuple[str, object, object, str]]:
    """(label, this month, last month, kind) with kind in count / rate / decimal / text."""
    yield w("report.row.total"), cur.total, prev.total, "count"
    yield SUB + w("report.row.valid"), cur.valid, prev.valid, "count"
    yield SUB + w("report.row.invalid"), cur.invalid, prev.invalid, "count"
    yield w("report.row.major"), cur.major, prev.major, "count"
    yield w("report.row.response"), cur.response.value, prev.response.value, "rate"
    yield SUB + w("report.row.response_detail"), f"{cur.response.numerator}/{cur.response.denominator}", \
        f"{prev.response.numerator}/{prev.response.denominator}", "text"
    yield w("report.row.resolution"), cur.resolution.value, prev.resolution.value, "rate"
    yield SUB + w("report.row.resolution_detail"), f"{cur.resolution.numerator}/{cur.resolution.denominator}", \
        f"{prev.resolution.numerator}/{prev.resolution.denominator}", "text"
    yield w("report.row.callback"), cur.callback.value, prev.callback.value, "rate"
    yield SUB + w("report.row.callback_due"), cur.callback.denominator, prev.callback.denominator, "count"
    yield SUB + w("report.row.callback_done"), cur.callback.numerator, prev.callback.numerator, "count"
    yield SUB + w("report.row.unreachable"), cur.callback_unreachable, prev.callback_unreachable, "count"
    yield SUB + w("report.row.callback_open"), cur.callback_open, prev.callback_open, "count"
    yield SUB + w("report.row.callback_skipped"), cur.callback_skipped, prev.callback_skipped, "count"
    yield w("report.row.rating_average"), cur.rating_average, prev.rating_average, "decimal"
    yield w("report.row.satisfied"), cur.satisfied.value, prev.satisfied.value, "rate"
    for key in (0, 1, 2, 3, 4, 5):
        yield SUB + w("report.row.rating", label=w.rating(key)), cur.ratings.get(key, 0), prev.ratings.get(key, 0), "count"
    yield w("report.row.reopened"), cur.reopened, prev.reopened, "count"
    yield w("report.row.overdue"), cur.overdue_open, prev.overdue_open, "count"
    for cat in _keys(cur.by_category, prev.by_category, [c.value for c in Category]):
        yield (w("report.row.category", label=w.category(cat)), cur.by_category.get(cat, 0),
               prev.by_category.get(cat, 0), "count")
    for sev in _keys(cur.by_severity, prev.by_severity, [s.value for s in Severity]):
        yield (w("report.row.severity", label=w.severity(sev)), cur.by_severity.get(sev, 0),
               prev.by_severity.get(sev, 0), "count")
    for st in _keys(cur.by_status, prev.by_status, []):
        yield w("report.row.status", label=w.status(st)), cur.by_status.get(st, 0), prev.by_status.get(st, 0), "count"


def _keys(a: dict, b: dict, order: list[str]) -> list[str]:
    present = set(a) | set(b)
    return [k for k in order if k in present] + sorted(k for k in present if k not in order)


def _write_summary(wb: Workbook, w: Words, cur: MonthStats, prev: MonthStats, tz: ZoneInfo,
                   analysis: str | None = None) -> None:
    ws = _sheet(wb, w("report.sheet.summary"), [
        (w("report.head.figure"), 26), (w("report.head.this_month", month=w.month(cur.month)), 18),
        (w("report.head.last_month", month=w.month(prev.month)), 18), (w("report.head.change"), 14)])
    for label, now, before, kind in _summary_rows(w, cur, prev):
        fmt = {"count": INT, "rate": PCT, "decimal": DEC}.get(kind)
        change = None if kind == "text" or now is None or before is None else now - before
        change_fmt = {"count": INT_CHANGE, "rate": PCT_CHANGE, "decimal": "+0.00;-0.00;0.00"}.get(kind)
        ws.append([_cell(ws, label, bold=not label.startswith(SUB)),
                   _cell(ws, "—" if now is None else now, fmt), _cell(ws, "—" if before is None else before, fmt),
                   _cell(ws, change, change_fmt)])
    ws.append([])
    if cur.team_name:
        scope_name = cur.team_name
    else:
        scope_name = w("report.scope_team", id=cur.team_id) if cur.team_id is not None else w("report.scope_all")
    as_of = _local(cur.as_of, tz).strftime("%Y-%m-%d %H:%M") + (w("report.month_unfinished") if cur.partial else "")
    for label, value in (
        (w("report.scope"), scope_name),
        (w("report.time_zone"), cur.tz),
        (w("report.as_of"), as_of),
        (w("report.generated"), _local(utcnow(), tz).strftime("%Y-%m-%d %H:%M")),
        (w("report.basis"), w("report.basis_text")),
    ):
        ws.append([_cell(ws, label, bold=True), _cell(ws, value)])
    # The management's analysis of the month (原因分析 / 整改措施), written when the draft is reviewed.
    ws.append([])
    ws.append([_cell(ws, w("report.analysis"), bold=True), _cell(ws, analysis or w("report.analysis_none"))])


def _write_category_severity(wb: Workbook, w: Words, stats: MonthStats) -> None:
    severities = [s.value for s in Severity]
    extra = sorted({sev for _, sev in stats.by_category_severity} - set(severities))
    severities += extra
    headers = ([(w("report.head.category"), 14)] + [(w.severity(s), 10) for s in severities]
               + [(w("report.head.total"), 10), (w("report.head.share"), 10)])
    ws = _sheet(wb, w("report.sheet.category_severity"), headers)
    categories = _keys(stats.by_category, {}, [c.value for c in Category])
    categories = [c.value for c in Category] + [c for c in categories if c not in {x.value for x in Category}]
    totals = [0] * len(severities)
    for cat in categories:
        counts = [stats.by_category_severity.get((cat, s), 0) for s in severities]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        row_total = sum(counts)
        ws.append([_cell(ws, w.category(cat))] + [_cell(ws, n, INT) for n in counts]
                  + [_cell(ws, row_total, INT), _cell(ws, row_total / stats.total if stats.total else 0, PCT)])
    ws.append([_cell(ws, w("report.head.total"), bold=True)] + [_cell(ws, n, INT, bold=True) for n in totals]
              + [_cell(ws, sum(totals), INT, bold=True), _cell(ws, 1 if stats.total else 0, PCT, bold=True)])


def _write_groups(wb: Workbook, w: Words, rows: list[GroupRow], total: int, *, staff: bool) -> None:
    if staff:
        title, headers = w("report.sheet.staff"), [(w("report.head.person"), 18), (w("report.head.team"), 12)]
    else:
        title, headers = w("report.sheet.buildings"), [(w("report.head.building"), 18)]
    headers += [(w("report.head.tickets"), 9), (w("report.head.share"), 9), (w("report.head.resolved"), 9),
                (w("report.head.response_rate"), 12), (w("report.head.resolved_on_time"), 10),
                (w("report.head.resolution_rate"), 12), (w("report.head.overdue"), 12),
                (w("report.head.reopened"), 8)]
    if staff:
        headers += [(w("report.head.ratings"), 9), (w("report.head.rating_average"), 10)]
    ws = _sheet(wb, title, headers)
    for g in rows:
        line = [_cell(ws, w.person(g) if staff else w.building(g))]
        if staff:
            line.append(_cell(ws, g.team or ""))
        line += [_cell(ws, g.n, INT), _cell(ws, g.n / total if total else 0, PCT), _cell(ws, g.resolved, INT),
                 _cell(ws, g.response.value if g.response.value is not None else "—", PCT),
                 _cell(ws, g.resolution.numerator, INT),
                 _cell(ws, g.resolution.value if g.resolution.value is not None else "—", PCT),
                 _cell(ws, g.overdue_open, INT), _cell(ws, g.reopened, INT)]
        if staff:
            line += [_cell(ws, g.ratings, INT), _cell(ws, g.rating_avg if g.rating_avg is not None else "—", DEC)]
        ws.append(line)


def _write_matters(wb: Workbook, w: Words, matters: list[Matter], total: int) -> None:
    ws = _sheet(wb, w("report.sheet.matters"), [
        (w("report.head.rank"), 6), (w("report.head.category"), 12), (w("report.head.primary"), 14),
        (w("report.head.shared"), 30), (w("report.head.tickets"), 9), (w("report.head.month_share"), 12),
        (w("report.head.examples"), 50)])
    for rank, m in enumerate(matters, start=1):
        shared = w.joined(w("report.matter_shared", term=term, n=n) for term, n in m.shared) or "—"
        ws.append([_cell(ws, rank, INT), _cell(ws, w.category(m.category)), _cell(ws, m.term), _cell(ws, shared),
                   _cell(ws, m.count, INT), _cell(ws, m.count / total if total else 0, PCT),
                   _cell(ws, w.joined(m.examples))])
    if not matters:
        ws.append([_cell(ws, "—"), _cell(ws, w("report.no_matters"))])


TICKET_COLUMNS = [("number", 18), ("created", 17), ("category", 10), ("kind", 6), ("severity", 9), ("status", 12),
                  ("location", 24), ("building", 11), ("team", 10), ("assignee", 10), ("respond_by", 17),
                  ("accepted", 17), ("responded_on_time", 9), ("resolve_by", 17), ("first_resolved", 17),
                  ("resolved_on_time", 9), ("reopens", 9), ("closed", 17), ("rating", 9), ("major", 6)]


async def _write_tickets(wb: Workbook, w: Words, session: AsyncSession, stats: MonthStats, tz: ZoneInfo,
                         list_rows: int) -> int:
    ws = _sheet(wb, w("report.sheet.tickets"), [(w(f"report.column.{key}"), width) for key, width in TICKET_COLUMNS])
    yes_no = {1: w("report.yes"), 0: w("report.no")}
    yes, not_solved, unknown_building = w("report.yes"), w.rating(0), w("report.building_unknown")
    # One styled cell per formatted column, reused for every row: a write-only row is serialised
    # as soon as it is appended, so only the value changes (saves building ~10 cells a row).
    created, respond_by, accepted, resolve_by, resolved, closed = (_cell(ws, None, DATETIME) for _ in range(6))
    reopens = _cell(ws, None, INT)

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(tz).replace(tzinfo=None) if value is not None else None

    labels: dict[tuple[str, str | None], str] = {}

    def label(kind: str, code: str | None) -> str:
        key = (kind, code)
        if key not in labels:
            labels[key] = getattr(w, kind)(code)
        return labels[key]

    written = 0
    conn = await session.connection()
    cut_note = [w("report.list_cut", limit=list_rows, total=stats.total), w("report.list_in_csv")]

    def write(partition) -> bool:
        """Append one batch of rows; False once the list is full."""
        nonlocal written
        for r in partition:
            if written >= list_rows:
                ws.append(cut_note)
                return False
            created.value, respond_by.value, accepted.value = (
                local(r.created_at), local(r.respond_by), local(r.accepted_at))
            resolve_by.value, resolved.value, closed.value = (
                local(r.resolve_by), local(r.first_resolved), local(r.closed_at))
            reopens.value = int(r.reopens or 0)
            rating = r.rating
            ws.append([
                r.number, created, label("category", r.category), label("kind", r.kind),
                label("severity", r.severity), label("status", r.status), r.location,
                r.building or unknown_building, r.team or "", r.assignee or "", respond_by,
                accepted, yes_no.get(r.response_ok, "—"), resolve_by, resolved,
                yes_no.get(r.resolution_ok, "—"), reopens, closed,
                not_solved if rating == 0 else (int(rating) if rating is not None else None),
                yes if r.major else None,
            ])
            written += 1
        return True

    result = await conn.stream(ticket_query(stats, list_rows + 1).execution_options(yield_per=2000))
    try:
        async for partition in result.partitions(2000):
            # Serialising rows is CPU work: do it off the event loop so the bot stays responsive.
            if not await asyncio.to_thread(write, partition):
                break
    finally:
        await result.close()
    return written


def _write_figures(wb: Workbook, w: Words, f: report_figures.Figures) -> None:
    """专项指标: valid and invalid, valid by channel and by kind, average resolution time by severity,
    reopen rate (definitions in ``services.report_figures``)."""
    ws = _sheet(wb, w("report.sheet.figures"), [(w("report.head.figure"), 30), (w("report.head.value"), 14),
                                                 (w("report.head.share"), 10)])
    valid_total = f.valid or 0

    def share(n: int) -> WriteOnlyCell:
        return _cell(ws, n / valid_total if valid_total else 0, PCT)

    ws.append([_cell(ws, w("report.fig.valid"), bold=True), _cell(ws, f.valid, INT)])
    ws.append([_cell(ws, w("report.fig.invalid"), bold=True), _cell(ws, f.invalid, INT)])
    ws.append([_cell(ws, w("report.fig.by_channel"), bold=True)])
    for channel, n in f.by_channel.items():
        ws.append([_cell(ws, SUB + w("report.fig.channel", label=w(f"web.channel.{channel}"))), _cell(ws, n, INT),
                   share(n)])
    ws.append([_cell(ws, w("report.fig.by_kind"), bold=True)])
    for kind in _keys(f.by_kind, {}, [k.value for k in Kind]):
        n = f.by_kind.get(kind, 0)
        ws.append([_cell(ws, SUB + w.kind(kind)), _cell(ws, n, INT), share(n)])
    ws.append([_cell(ws, w("report.fig.resolution_time"), bold=True)])
    for sev in _keys(f.resolution_hours, {}, [s.value for s in Severity]):
        n, hours = f.resolution_hours[sev]
        ws.append([_cell(ws, SUB + w("report.fig.resolution_hours", label=w.severity(sev), n=n)),
                   _cell(ws, round(hours, 2) if hours is not None else "—", DEC)])
    ws.append([_cell(ws, w("report.fig.reopen_rate"), bold=True),
               _cell(ws, f.reopen.value if f.reopen.value is not None else "—", PCT),
               _cell(ws, f"{f.reopen.numerator}/{f.reopen.denominator}")])


def _write_majors(wb: Workbook, w: Words, rows: list[report_figures.MajorRow], tz: ZoneInfo,
                  total: int | None = None) -> None:
    """重大投诉: the month's majors with their owner and outcome (the first ``MAJOR_ROWS``, then a note
    row with how many there are and where the others are)."""
    ws = _sheet(wb, w("report.sheet.majors"), [(w(f"report.major.{key}"), width) for key, width in (
        ("number", 18), ("created", 17), ("category", 10), ("location", 24), ("owner", 12), ("reply_by", 17),
        ("replied", 17), ("replied_on_time", 9), ("resolve_by", 17), ("resolved", 17), ("status", 10), ("outcome", 14))])
    yes_no = {True: w("report.yes"), False: w("report.no")}
    outcomes = {None: w("report.major.outcome_open"), True: w("report.major.outcome_on_time"),
                False: w("report.major.outcome_late")}
    categories: dict[str, str] = {}
    statuses: dict[str, str] = {}
    # as in the ticket list: one styled cell per time column, reused (a write-only row is written
    # out when appended), plain values for the text
    created, reply_by, replied, resolve_by, resolved = (_cell(ws, None, DATETIME) for _ in range(5))
    for r in rows:
        if r.category not in categories:
            categories[r.category] = w.category(r.category)
        if r.status not in statuses:
            statuses[r.status] = w.status(r.status)
        created.value, reply_by.value, replied.value = (
            _local(r.created_at, tz), _local(r.reply_by, tz), _local(r.replied_at, tz))
        resolve_by.value, resolved.value = _local(r.resolve_by, tz), _local(r.first_resolved, tz)
        outcome = outcomes[None if r.first_resolved is None else bool(r.resolved_on_time)]
        ws.append([r.number, created, categories[r.category], r.location, r.owner or "—", reply_by, replied,
                   yes_no.get(r.replied_on_time, "—"), resolve_by, resolved, statuses[r.status], outcome])
    if not rows and not total:
        ws.append([_cell(ws, "—"), _cell(ws, w("report.major.none"))])
    elif total is not None and total > len(rows):
        ws.append([w("report.list_cut", limit=len(rows), total=total), w("report.major.in_csv")])


def _write_charts(wb: Workbook, w: Words, paths: list[Path]) -> None:
    ws = wb.create_sheet(w("report.sheet.charts"))
    row = 1
    for path in paths:
        image = XlImage(str(path))
        ws.add_image(image, f"A{row}")
        row += int(image.height / 20) + 2


def _draw_charts(w: Words, current: MonthStats, days: list[tuple[date, int]], out: Path) -> list[Path]:
    month = w.month(current.month)
    scope_name = w("report.chart.scope", team=current.team_name) if current.team_name else ""
    categories = {w.category(code): n for code, n in current.by_category.items()}
    return [
        charts.category_bar(categories, out.with_name(f"{out.stem}.category.png"),
                            title=w("report.chart.category", scope=scope_name, month=month, total=current.total),
                            ylabel=w("report.chart.tickets"), empty=w("report.chart.no_data")),
        charts.daily_line(days, out.with_name(f"{out.stem}.daily.png"),
                          title=w("report.chart.daily", scope=scope_name, month=month),
                          xlabel=w("report.chart.day"), ylabel=w("report.chart.new_tickets")),
        charts.rating_bar(current.ratings, out.with_name(f"{out.stem}.ratings.png"),
                          title=w("report.chart.ratings", scope=scope_name, month=month, count=current.rating_count),
                          labels=[w.rating(k) for k in charts.RATING_KEYS], ylabel=w("report.chart.ratings_axis")),
    ]


ACTION_COLUMNS = [("number", 18), ("category", 10), ("cause", 10), ("cause_text", 30), ("action", 36),
                  ("owner", 10), ("created", 17), ("due", 17), ("status", 9), ("done", 17), ("done_note", 36)]


async def _write_corrective_actions(wb: Workbook, w: Words, session: AsyncSession, stats: MonthStats,
                                    tz: ZoneInfo) -> None:
    """整改措施: the corrective actions opened or closed in the month (ticket, cause, action, owner, due,
    status, what was done), then the counts opened / closed / still open (services.procedure)."""
    from models.tables import Complaint, CorrectiveAction

    ws = _sheet(wb, w("report.sheet.actions"), [(w(f"report.action_column.{key}"), width)
                                                for key, width in ACTION_COLUMNS])
    statement = (select(CorrectiveAction, Complaint, Staff)
                 .join(Complaint, Complaint.id == CorrectiveAction.complaint_id)
                 .join(Staff, Staff.id == CorrectiveAction.owner_id)
                 .where(((CorrectiveAction.created_at >= stats.start) & (CorrectiveAction.created_at < stats.end))
                        | ((CorrectiveAction.done_at >= stats.start) & (CorrectiveAction.done_at < stats.end)))
                 .order_by(CorrectiveAction.created_at, CorrectiveAction.id))
    if stats.team_id is not None:
        statement = statement.where(Complaint.team_id == stats.team_id)
    rows = (await session.exec(statement)).all()
    opened = closed = still_open = 0
    for action, complaint, owner in rows:
        opened += stats.start <= action.created_at < stats.end
        done_here = action.done_at is not None and stats.start <= action.done_at < stats.end
        closed += done_here
        still_open += action.status == "open" or (action.done_at is not None and action.done_at >= stats.end)
        ws.append([_cell(ws, complaint.number), _cell(ws, w.category(complaint.category)),
                   _cell(ws, w(f"proc.cause.{complaint.cause_category}") if complaint.cause_category else "—"),
                   _cell(ws, complaint.cause_text or ""), _cell(ws, action.description), _cell(ws, owner.name),
                   _cell(ws, _local(action.created_at, tz), DATETIME), _cell(ws, _local(action.due_at, tz), DATETIME),
                   _cell(ws, w(f"proc.action_status.{'done' if done_here else 'open'}")),
                   _cell(ws, _local(action.done_at, tz) if done_here else None, DATETIME),
                   _cell(ws, (action.done_note or "") if done_here else "")])
    if not rows:
        ws.append([_cell(ws, "—"), _cell(ws, w("report.no_actions"))])
    ws.append([])
    for key, value in (("opened", opened), ("closed", closed), ("open", still_open)):
        ws.append([_cell(ws, w(f"report.actions_count.{key}"), bold=True), _cell(ws, value, INT, bold=True)])


async def _no_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT compilation for this transaction's queries. The report's GROUP BYs run in
    about a second at a million tickets; compiling each costs 0.15–0.25 s more than it saves."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await (await session.connection()).exec_driver_sql("SET LOCAL jit = off")


async def build_report(session: AsyncSession, *, month: str, tz: ZoneInfo, out: Path, text: Text,
                       team_id: int | None = None, now: datetime | None = None,
                       ticket_list: bool = True, list_rows: int | None = None,
                       majors_rows: int = MAJOR_ROWS) -> ReportFiles:
    """Write the month's workbook to ``out`` and its charts next to it (``<stem>.category.png`` …).

    ``text`` gives the wording (the recipient's language); ``now`` (default: the current time)
    decides whether the month is finished; ``ticket_list=False`` leaves out the ticket list (the
    bench uses it to time the figures alone); ``list_rows`` caps the list sheet (default
    ``TICKET_LIST_LIMIT``; at most Excel's row limit): the whole list is :func:`ticket_csv`;
    ``majors_rows`` caps the majors sheet the same way (the CSV marks every major).
    """
    out = Path(out)
    words = Words(text)
    await _no_jit(session)
    current, previous = await compare(session, month=month, tz=tz, team_id=team_id, now=now)
    days = await daily_intake(session, current, tz)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The charts are drawn in a thread while the database answers the other queries (to_thread
    # runs in a copy of this context: the wording keeps the caller's locale).
    drawing = asyncio.ensure_future(asyncio.to_thread(_draw_charts, words, current, days, out))
    try:
        buildings = await by_building(session, current)
        staff_rows = await by_staff(session, current)
        matters = await recurring_matters(session, current)
        figures = await report_figures.month_figures(session, current, majors_limit=max(0, majors_rows))
        analysis = await review.summary_of(session, month) if team_id is None else None
    except BaseException:
        await asyncio.gather(drawing, return_exceptions=True)  # no drawing left running behind a failure
        raise
    chart_paths = await drawing

    wb = Workbook(write_only=True)
    _write_summary(wb, words, current, previous, tz, analysis)
    _write_category_severity(wb, words, current)
    _write_groups(wb, words, buildings, current.total, staff=False)
    _write_groups(wb, words, staff_rows, current.total, staff=True)
    _write_matters(wb, words, matters, current.total)
    _write_figures(wb, words, figures)
    await asyncio.to_thread(_write_majors, wb, words, figures.majors, tz, figures.major_count)
    if ticket_list:
        rows = TICKET_LIST_LIMIT if list_rows is None else list_rows
        await _write_tickets(wb, words, session, current, tz, max(0, min(rows, EXCEL_ROWS)))
    await _write_corrective_actions(wb, words, session, current, tz)
    _write_charts(wb, words, chart_paths)
    tmp = out.with_name(out.name + ".tmp")
    await asyncio.to_thread(wb.save, tmp)
    tmp.replace(out)
    return ReportFiles(xlsx=out, charts=chart_paths, summary=current)


# ---------------------------------------------------------------------------------------------
# The whole ticket list as CSV


def _month_scope(month: str, tz: ZoneInfo, team_id: int | None, now: datetime | None) -> MonthStats:
    """The month's bounds and clock (as ``services.stats.month_stats`` sets them), without figures."""
    start, end = month_bounds(month, tz)
    as_of = min(max(now or utcnow(), start), end)
    year, mon = parse_month(month)
    return MonthStats(month=f"{year:04d}-{mon:02d}", tz=str(tz.key), team_id=team_id, team_name=None,
                      start=start, end=end, as_of=as_of)


async def ticket_csv(session: AsyncSession, *, month: str, tz: ZoneInfo, text: Text, team_id: int | None = None,
                     now: datetime | None = None, batch: int = CSV_BATCH) -> AsyncIterator[bytes]:
    """Every ticket of the month as CSV, chunk by chunk: the list sheet's columns and wording (``text``:
    the reader's language), times local to ``tz`` as ``YYYY-MM-DD HH:MM``; UTF-8 with a BOM so that
    Excel reads Chinese right. Rows come through a server-side cursor ``batch`` at a time, so a month
    of a million tickets is never held in memory; each chunk is one batch of rows."""
    w = Words(text)
    stats = _month_scope(month, tz, team_id, now)
    yes_no = {1: w("report.yes"), 0: w("report.no")}
    yes, not_solved, unknown_building = w("report.yes"), w.rating(0), w("report.building_unknown")
    labels: dict[tuple[str, str | None], str] = {}

    def label(kind: str, code: str | None) -> str:
        key = (kind, code)
        if key not in labels:
            labels[key] = getattr(w, kind)(code)
        return labels[key]

    def local(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else ""

    def encode(partition) -> bytes:
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\r\n")
        for r in partition:
            rating = r.rating
            out.writerow([
                r.number, local(r.created_at), label("category", r.category), label("kind", r.kind),
                label("severity", r.severity), label("status", r.status), r.location,
                r.building or unknown_building, r.team or "", r.assignee or "", local(r.respond_by),
                local(r.accepted_at), yes_no.get(r.response_ok, "—"), local(r.resolve_by), local(r.first_resolved),
                yes_no.get(r.resolution_ok, "—"), int(r.reopens or 0), local(r.closed_at),
                not_solved if rating == 0 else (int(rating) if rating is not None else ""),
                yes if r.major else "",
            ])
        return buffer.getvalue().encode("utf-8")

    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow([w(f"report.column.{key}") for key, _ in TICKET_COLUMNS])
    yield "\ufeff".encode() + header.getvalue().encode("utf-8")
    await _no_jit(session)
    conn = await session.connection()
    result = await conn.stream(ticket_query(stats).execution_options(yield_per=batch))
    try:
        async for partition in result.partitions(batch):
            yield await asyncio.to_thread(encode, partition)
    finally:
        await result.close()


async def write_ticket_csv(session: AsyncSession, path: Path, **kwargs) -> Path:
    """:func:`ticket_csv` into a file (written beside, then moved into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        async for chunk in ticket_csv(session, **kwargs):
            out.write(chunk)
    tmp.replace(path)
    return path
