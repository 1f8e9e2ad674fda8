"""monthly report roll-up: per day, the month's figures kept at write time by triggers

Three tables sum the tickets of each day of filing (days of UTC+8, ``DAY_OFFSET_MINUTES``: a month
in Asia/Shanghai is whole days) under the keys the report groups by:

- ``report_day_ticket``: (day, team, category, severity, status, channel, kind) — /stats, the
  summary sheet, 分类×级别 and 专项指标;
- ``report_day_building``: (day, team, building) — 楼栋区域 (the building as
  ``services.stats.building_expr`` computes it, compiled into the triggers here);
- ``report_day_staff``: (day, team, assignee) — 人员.

A missing team or assignee is kept as 0. Each row holds the same measures, per ticket 0/1 unless
said otherwise (valid = not cancelled and not invalid; first resolution = ``first_resolved_at``,
else ``resolved_at``; open = new, assigned, accepted or reopened):

``n``; ``major``; ``resp_ok`` (valid, has respond_by, accepted by it); ``resp_done`` (valid, has
respond_by, accepted); ``resp_wait`` (valid, has respond_by, not accepted); ``res_ok`` / ``res_done``
/ ``res_wait`` (the same for resolve_by and the first resolution); ``open_due`` (open with a
resolve_by); ``resolved`` (resolved at least once); ``reopened`` (reopened at least once);
``reopen_events`` (number of reopens); ``res_seconds`` (first resolution − filing, in seconds).

What depends on the clock ("due": not accepted and respond_by already past) is not kept: the
report subtracts the tickets whose deadline is not past yet, found through two partial indexes
over the unaccepted and the unsettled tickets (``services.rollup``).

Triggers on ``complaint`` (insert, delete, and updates of the columns above — including the
``first_resolved_at`` / ``reopens`` updates of the 0016 event trigger) take the old row's
contribution out and put the new one in, in the same transaction, so whatever writes a ticket
(the lifecycle, an import, a bulk insert) keeps the roll-up right. Backfilled here from the
tickets. ``report_rollup_meta`` records the building expression the triggers were made with: when
the vocabulary's markers change, the report sees it and counts buildings from the tickets.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import literal_column

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# The roll-up's days are those of UTC+8 (China Standard Time, the desk's zone, without summer time
# since 1991): a month in Asia/Shanghai is whole days of the roll-up.
DAY_OFFSET_MINUTES = 480
OPEN = "('new', 'assigned', 'accepted', 'reopened')"
INVALID = "('cancelled', 'invalid')"
MEASURES = ("n", "major", "resp_ok", "resp_done", "resp_wait", "res_ok", "res_done", "res_wait", "open_due",
            "resolved", "reopened", "reopen_events", "res_seconds")
TABLES = {
    "report_day_ticket": ("team_id", "category", "severity", "status", "channel", "kind"),
    "report_day_building": ("team_id", "building"),
    "report_day_staff": ("team_id", "assignee_id"),
}
# the columns a ticket's contribution depends on: an update of any other column fires nothing
WATCHED = ("created_at", "team_id", "assignee_id", "location", "category", "severity", "status", "channel", "kind",
           "major", "respond_by", "accepted_at", "resolve_by", "first_resolved_at", "resolved_at", "reopens")


# Callback rounds (回访) by the day their first attempt falls due, with the ticket's team and
# assignee, the round's status and rating (-1: none): the callback rate, the ratings and the
# ratings per person. Kept by triggers on callback_attempt (a first attempt written, moved,
# deleted), callback_round (status, rating) and complaint (team, assignee).
ROUND_KEYS = ("day", "team_id", "assignee_id", "status", "rating")


def _day_of(dialect, moment: str) -> str:
    shift = f"{DAY_OFFSET_MINUTES} minutes"
    if dialect.name == "postgresql":
        return f"CAST(({moment} AT TIME ZONE 'UTC') + interval '{shift}' AS date)"
    return f"date({moment}, '+{shift}')"


def round_sql(dialect, sign: str, *, due: str, team: str, assignee: str, status: str, rating: str, source: str,
              where: str) -> str:
    """Add (sign "") or take out ("-") the rounds selected by ``source`` / ``where``."""
    keys = (_day_of(dialect, due), f"COALESCE({team}, 0)", f"COALESCE({assignee}, 0)", status,
            f"COALESCE({rating}, -1)")
    target = "report_day_round." if dialect.name == "postgresql" else ""
    return (f"INSERT INTO report_day_round ({', '.join(ROUND_KEYS)}, n) "
            f"SELECT {', '.join(keys)}, {sign}COUNT(*) FROM {source} WHERE {where} "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))} "
            f"ON CONFLICT ({', '.join(ROUND_KEYS)}) DO UPDATE SET n = {target}n + excluded.n")


def round_statements(dialect) -> dict[str, list[str]]:
    """The trigger bodies: on an attempt (NEW/OLD), a round, a ticket."""
    def for_attempt(row: str, sign: str) -> str:
        return round_sql(dialect, sign, due=f"{row}.due_at", team="c.team_id", assignee="c.assignee_id",
                         status="r.status", rating="r.rating",
                         source="callback_round r JOIN complaint c ON c.id = r.complaint_id",
                         where=f"r.id = {row}.round_id")

    def for_round(row: str, sign: str) -> str:
        return round_sql(dialect, sign, due="a.due_at", team="c.team_id", assignee="c.assignee_id",
                         status=f"{row}.status", rating=f"{row}.rating",
                         source="callback_attempt a JOIN complaint c ON c.id = a.complaint_id",
                         where=f"a.round_id = {row}.id AND a.attempt_no = 1")

    def for_ticket(row: str, sign: str) -> str:
        return round_sql(dialect, sign, due="a.due_at", team=f"{row}.team_id", assignee=f"{row}.assignee_id",
                         status="r.status", rating="r.rating",
                         source="callback_round r JOIN callback_attempt a ON a.round_id = r.id AND a.attempt_no = 1",
                         where=f"r.complaint_id = {row}.id")

    return {"attempt_insert": [for_attempt("NEW", "")],
            "attempt_update": [for_attempt("OLD", "-"), for_attempt("NEW", "")],
            "attempt_delete": [for_attempt("OLD", "-")],
            "round_update": [for_round("OLD", "-"), for_round("NEW", "")],
            "ticket_update": [for_ticket("OLD", "-"), for_ticket("NEW", "")]}


ROUND_BACKFILL = """INSERT INTO report_day_round (day, team_id, assignee_id, status, rating, n)
SELECT {day}, COALESCE(c.team_id, 0), COALESCE(c.assignee_id, 0), r.status, COALESCE(r.rating, -1), COUNT(*)
FROM callback_attempt a JOIN callback_round r ON r.id = a.round_id JOIN complaint c ON c.id = r.complaint_id
WHERE a.attempt_no = 1 GROUP BY 1, 2, 3, 4, 5"""


def _round_triggers(dialect) -> None:
    body = round_statements(dialect)
    pg = dialect.name == "postgresql"
    # (name, table, event, condition, statements)
    triggers = [
        ("report_round_attempt_insert", "callback_attempt", "INSERT", "NEW.attempt_no = 1", body["attempt_insert"]),
        ("report_round_attempt_update", "callback_attempt", "UPDATE OF due_at",
         "NEW.attempt_no = 1 AND OLD.attempt_no = 1 AND OLD.due_at {ne} NEW.due_at", body["attempt_update"]),
        ("report_round_attempt_delete", "callback_attempt", "DELETE", "OLD.attempt_no = 1", body["attempt_delete"]),
        ("report_round_status", "callback_round", "UPDATE OF status, rating",
         "OLD.status {ne} NEW.status OR OLD.rating {ne} NEW.rating", body["round_update"]),
        ("report_round_ticket", "complaint", "UPDATE OF team_id, assignee_id",
         "OLD.team_id {ne} NEW.team_id OR OLD.assignee_id {ne} NEW.assignee_id", body["ticket_update"]),
    ]
    ne = "IS DISTINCT FROM" if pg else "IS NOT"
    for name, table, event, condition, statements in triggers:
        condition = condition.format(ne=ne)
        if pg:
            op.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  "
                       + ";\n  ".join(statements) + ";\n  RETURN NULL;\nEND\n$$")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW WHEN ({condition}) "
                       f"EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} WHEN {condition} BEGIN\n  "
                       + ";\n  ".join(statements) + ";\nEND")


ROUND_TRIGGERS = ("report_round_attempt_insert", "report_round_attempt_update", "report_round_attempt_delete",
                  "report_round_status", "report_round_ticket")


# 重复问题TOP3 (PostgreSQL, where the primary keyword and the other keywords are generated columns,
# migration 0016): tickets per (day, team, category, primary keyword), and per other keyword of the
# same tickets. SQLite computes the matters at report time.
MATTER_STATEMENTS = """
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.matter_term IS NOT NULL THEN
    INSERT INTO report_day_matter (day, team_id, category, term, n)
    VALUES ({old_day}, COALESCE(OLD.team_id, 0), OLD.category, OLD.matter_term, -1)
    ON CONFLICT (day, team_id, category, term) DO UPDATE SET n = report_day_matter.n + excluded.n;
    INSERT INTO report_day_matter_other (day, team_id, category, term, other, n)
    SELECT {old_day}, COALESCE(OLD.team_id, 0), OLD.category, OLD.matter_term, o.term, -COUNT(*)
    FROM unnest(OLD.matter_others) AS o(term) GROUP BY o.term
    ON CONFLICT (day, team_id, category, term, other) DO UPDATE SET n = report_day_matter_other.n + excluded.n;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.matter_term IS NOT NULL THEN
    INSERT INTO report_day_matter (day, team_id, category, term, n)
    VALUES ({new_day}, COALESCE(NEW.team_id, 0), NEW.category, NEW.matter_term, 1)
    ON CONFLICT (day, team_id, category, term) DO UPDATE SET n = report_day_matter.n + excluded.n;
    INSERT INTO report_day_matter_other (day, team_id, category, term, other, n)
    SELECT {new_day}, COALESCE(NEW.team_id, 0), NEW.category, NEW.matter_term, o.term, COUNT(*)
    FROM unnest(NEW.matter_others) AS o(term) GROUP BY o.term
    ON CONFLICT (day, team_id, category, term, other) DO UPDATE SET n = report_day_matter_other.n + excluded.n;
  END IF;"""
MATTER_BACKFILL = (
    """INSERT INTO report_day_matter (day, team_id, category, term, n)
SELECT {day}, COALESCE(c.team_id, 0), c.category, c.matter_term, COUNT(*) FROM complaint c
WHERE c.matter_term IS NOT NULL GROUP BY 1, 2, 3, 4""",
    """INSERT INTO report_day_matter_other (day, team_id, category, term, other, n)
SELECT {day}, COALESCE(c.team_id, 0), c.category, c.matter_term, o.term, COUNT(*)
FROM complaint c CROSS JOIN LATERAL unnest(c.matter_others) AS o(term)
WHERE c.matter_term IS NOT NULL GROUP BY 1, 2, 3, 4, 5""")


def _matter_rollup(dialect) -> None:
    op.create_table("report_day_matter", sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("team_id", sa.Integer(), nullable=False), sa.Column("category", sa.String(16), nullable=False),
                    sa.Column("term", sa.Text(), nullable=False), sa.Column("n", sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint("day", "team_id", "category", "term", name="pk_report_day_matter"))
    op.create_table("report_day_matter_other", sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("team_id", sa.Integer(), nullable=False), sa.Column("category", sa.String(16), nullable=False),
                    sa.Column("term", sa.Text(), nullable=False), sa.Column("other", sa.Text(), nullable=False),
                    sa.Column("n", sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint("day", "team_id", "category", "term", "other",
                                            name="pk_report_day_matter_other"))
    for statement in MATTER_BACKFILL:
        op.execute(statement.format(day=_day_of(dialect, "c.created_at")))
    body = MATTER_STATEMENTS.format(old_day=_day_of(dialect, "OLD.created_at"), new_day=_day_of(dialect, "NEW.created_at"))
    op.execute(f"CREATE OR REPLACE FUNCTION report_matter_rollup() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}\n"
               f"  RETURN NULL;\nEND\n$$")
    op.execute("CREATE TRIGGER report_matter_row AFTER INSERT OR DELETE ON complaint FOR EACH ROW "
               "EXECUTE FUNCTION report_matter_rollup()")
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}"
                          for c in ("matter_term", "matter_others", "created_at", "team_id", "category"))
    op.execute("CREATE TRIGGER report_matter_update AFTER UPDATE OF keywords, category, created_at, team_id "
               f"ON complaint FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION report_matter_rollup()")


def building_sql(dialect, row: str) -> str:
    """The building of ``<row>.location`` as SQL text (``services.stats.building_expr`` compiled)."""
    from services.stats import building_expr

    return str(building_expr(literal_column(f"{row}.location")).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}))


def _keys(dialect, row: str) -> dict[str, str]:
    pg = dialect.name == "postgresql"
    shift = f"{DAY_OFFSET_MINUTES} minutes"
    return {
        "day": (f"CAST(({row}.created_at AT TIME ZONE 'UTC') + interval '{shift}' AS date)" if pg
                else f"date({row}.created_at, '+{shift}')"),
        "team_id": f"COALESCE({row}.team_id, 0)",
        "assignee_id": f"COALESCE({row}.assignee_id, 0)",
        "building": building_sql(dialect, row),
        **{k: f"{row}.{k}" for k in ("category", "severity", "status", "channel", "kind")},
    }


def _measures(dialect, row: str) -> dict[str, str]:
    pg = dialect.name == "postgresql"
    valid = f"{row}.status NOT IN {INVALID}"
    first = f"COALESCE({row}.first_resolved_at, {row}.resolved_at)"
    seconds = (f"EXTRACT(EPOCH FROM ({first} - {row}.created_at))" if pg
               else f"((julianday({first}) - julianday({row}.created_at)) * 86400.0)")

    def flag(condition: str) -> str:
        return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    rb, acc, sb = f"{row}.respond_by", f"{row}.accepted_at", f"{row}.resolve_by"
    return {
        "n": "1",
        "major": flag(f"{row}.major"),
        "resp_ok": flag(f"{valid} AND {rb} IS NOT NULL AND {acc} IS NOT NULL AND {acc} <= {rb}"),
        "resp_done": flag(f"{valid} AND {rb} IS NOT NULL AND {acc} IS NOT NULL"),
        "resp_wait": flag(f"{valid} AND {rb} IS NOT NULL AND {acc} IS NULL"),
        "res_ok": flag(f"{valid} AND {sb} IS NOT NULL AND {first} IS NOT NULL AND {first} <= {sb}"),
        "res_done": flag(f"{valid} AND {sb} IS NOT NULL AND {first} IS NOT NULL"),
        "res_wait": flag(f"{valid} AND {sb} IS NOT NULL AND {first} IS NULL"),
        "open_due": flag(f"{row}.status IN {OPEN} AND {sb} IS NOT NULL"),
        "resolved": flag(f"{first} IS NOT NULL"),
        "reopened": flag(f"COALESCE({row}.reopens, 0) > 0"),
        "reopen_events": f"COALESCE({row}.reopens, 0)",
        "res_seconds": f"(CASE WHEN {first} IS NOT NULL THEN {seconds} ELSE 0 END)",
    }


def upsert_sql(dialect, table: str, row: str, sign: str) -> str:
    """Add (sign "") or take out (sign "-") the contribution of ``row`` (NEW or OLD) to ``table``."""
    keys = ("day",) + TABLES[table]
    key_sql, measure_sql = _keys(dialect, row), _measures(dialect, row)
    target = f"{table}." if dialect.name == "postgresql" else ""
    columns = ", ".join(keys + MEASURES)
    values = ", ".join([key_sql[k] for k in keys] + [f"{sign}{measure_sql[m]}" for m in MEASURES])
    updates = ", ".join(f"{m} = {target}{m} + excluded.{m}" for m in MEASURES)
    return (f"INSERT INTO {table} ({columns}) VALUES ({values}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


def backfill_sql(dialect, table: str) -> str:
    keys = ("day",) + TABLES[table]
    key_sql, measure_sql = _keys(dialect, "complaint"), _measures(dialect, "complaint")
    select = ", ".join([key_sql[k] for k in keys] + [f"SUM({measure_sql[m]})" for m in MEASURES])
    group = ", ".join(str(i + 1) for i in range(len(keys)))
    return (f"INSERT INTO {table} ({', '.join(keys + MEASURES)}) SELECT {select} FROM complaint "
            f"GROUP BY {group}")


def _changed(dialect) -> str:
    op_ = "IS DISTINCT FROM" if dialect.name == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in WATCHED)


def _create_tables() -> None:
    for table, keys in TABLES.items():
        columns = [sa.Column("day", sa.Date(), nullable=False), sa.Column("team_id", sa.Integer(), nullable=False)]
        for key in keys[1:]:
            columns.append(sa.Column(key, sa.Integer() if key == "assignee_id" else sa.String(64), nullable=False))
        columns += [sa.Column(m, sa.Float() if m == "res_seconds" else sa.Integer(), nullable=False,
                              server_default="0") for m in MEASURES]
        op.create_table(table, *columns, sa.PrimaryKeyConstraint("day", *keys, name=f"pk_{table}"))
    op.create_table("report_day_round", sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("team_id", sa.Integer(), nullable=False), sa.Column("assignee_id", sa.Integer(), nullable=False),
                    sa.Column("status", sa.String(16), nullable=False), sa.Column("rating", sa.Integer(), nullable=False),
                    sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
                    sa.PrimaryKeyConstraint(*ROUND_KEYS, name="pk_report_day_round"))
    op.create_table("report_rollup_meta", sa.Column("name", sa.String(32), primary_key=True),
                    sa.Column("value", sa.Text(), nullable=False))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect
    _create_tables()
    # the tickets whose deadline may still be ahead: what the report subtracts from the "waiting" counts
    # (PostgreSQL: with the columns the report reads, so that it reads the index alone)
    keys = ["team_id", "assignee_id", "category", "severity", "status", "channel", "kind", "location"]
    op.create_index("ix_complaint_unaccepted_respond_by", "complaint", ["respond_by", "created_at"],
                    postgresql_where=sa.text("accepted_at IS NULL"), sqlite_where=sa.text("accepted_at IS NULL"),
                    postgresql_include=keys)
    unsettled = f"status IN {OPEN} OR first_resolved_at IS NULL"
    op.create_index("ix_complaint_unsettled_resolve_by", "complaint", ["resolve_by", "created_at"],
                    postgresql_where=sa.text(unsettled), sqlite_where=sa.text(unsettled),
                    postgresql_include=keys + ["first_resolved_at", "resolved_at"])
    for table in TABLES:
        op.execute(backfill_sql(dialect, table))
    op.execute(ROUND_BACKFILL.format(day=_day_of(dialect, "a.due_at")))
    _round_triggers(dialect)
    op.execute(sa.text("INSERT INTO report_rollup_meta (name, value) VALUES ('building', :v), ('day_offset', :o)")
               .bindparams(v=building_sql(dialect, "NEW"), o=str(DAY_OFFSET_MINUTES)))
    if dialect.name == "postgresql":
        add = ";\n    ".join(upsert_sql(dialect, t, "NEW", "") for t in TABLES)
        remove = ";\n    ".join(upsert_sql(dialect, t, "OLD", "-") for t in TABLES)
        op.execute(f"""
CREATE OR REPLACE FUNCTION huifang_report_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {remove};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {add};
  END IF;
  RETURN NULL;
END
$$""")
        op.execute("CREATE TRIGGER complaint_rollup_row AFTER INSERT OR DELETE ON complaint "
                   "FOR EACH ROW EXECUTE FUNCTION huifang_report_rollup()")
        op.execute(f"CREATE TRIGGER complaint_rollup_update AFTER UPDATE OF {', '.join(WATCHED)} ON complaint "
                   f"FOR EACH ROW WHEN ({_changed(dialect)}) EXECUTE FUNCTION huifang_report_rollup()")
        _matter_rollup(dialect)
        return
    add = ";\n  ".join(upsert_sql(dialect, t, "NEW", "") for t in TABLES)
    remove = ";\n  ".join(upsert_sql(dialect, t, "OLD", "-") for t in TABLES)
    op.execute(f"CREATE TRIGGER complaint_rollup_insert AFTER INSERT ON complaint BEGIN\n  {add};\nEND")
    op.execute(f"CREATE TRIGGER complaint_rollup_delete AFTER DELETE ON complaint BEGIN\n  {remove};\nEND")
    op.execute(f"CREATE TRIGGER complaint_rollup_update AFTER UPDATE OF {', '.join(WATCHED)} ON complaint "
               f"WHEN {_changed(dialect)} BEGIN\n  {remove};\n  {add};\nEND")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name, table in zip(ROUND_TRIGGERS, ("callback_attempt",) * 3 + ("callback_round", "complaint"), strict=True):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("report_day_round")
    if pg:
        op.execute("DROP TRIGGER IF EXISTS report_matter_row ON complaint")
        op.execute("DROP TRIGGER IF EXISTS report_matter_update ON complaint")
        op.execute("DROP FUNCTION IF EXISTS report_matter_rollup()")
        op.drop_table("report_day_matter_other")
        op.drop_table("report_day_matter")
        op.execute("DROP TRIGGER IF EXISTS complaint_rollup_row ON complaint")
        op.execute("DROP TRIGGER IF EXISTS complaint_rollup_update ON complaint")
        op.execute("DROP FUNCTION IF EXISTS huifang_report_rollup()")
    else:
        for name in ("complaint_rollup_insert", "complaint_rollup_delete", "complaint_rollup_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_complaint_unsettled_resolve_by", table_name="complaint")
    op.drop_index("ix_complaint_unaccepted_respond_by", table_name="complaint")
    for table in ("report_rollup_meta", *TABLES):
        op.drop_table(table)
