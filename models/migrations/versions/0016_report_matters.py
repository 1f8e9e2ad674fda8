"""monthly report at scale: per-ticket facts kept at write time, so a month's figures need no join

First resolution and reopens (both backends): ``complaint.first_resolved_at`` (the earliest event
moving the ticket to ``resolved``) and ``complaint.reopens`` (its events moving it to
``reopened``), kept by a trigger on ``complaint_event`` inserts (the event log is append-only),
so whatever writes an event keeps them right: ``services.lifecycle.transition``, an import, a
bulk insert. Backfilled here from the events. Partial indexes find the month's majors and
the callback rounds whose first attempt falls due in the month. The monthly figures read them instead of grouping
the month's events and joining them back (``services.stats``), not in the ORM model.

Primary keyword (PostgreSQL):

The report's 重复问题TOP3 groups the month's tickets by (category, primary keyword): the
highest-weight keyword that voted for the ticket's own category (``services.report``). Expanding
every ticket's keyword list at report time costs seconds at a million tickets, so on PostgreSQL
the primary keyword is a stored generated column (``matter_term``, not in the ORM model), which
the database recomputes whenever ``keywords`` or ``category`` change — whatever writes them (the
ORM, Core bulk inserts, a staff correction of the category). Its function never raises: entries
that are not objects, or whose weight is not a number, are skipped.

``matter_others`` (text[]) holds the ticket's other category keywords, best first (the report's
"shared keywords"). The index (created_at, category, matter_term) INCLUDE (matter_others) lets the
month's matters and their shared keywords be counted from the index alone. SQLite computes the primary keyword at report time (``services.report.recurring_matters``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# The category keywords of a ticket (objects whose target is its category and whose weight is a
# positive number), best first: weight descending, then term. The first is the primary keyword.
_RANKED = """
    SELECT k.term, row_number() OVER (ORDER BY k.weight DESC, k.term) AS rn FROM (
      SELECT j.value ->> 'term' AS term, j.value ->> 'target' AS target,
             CAST(CASE WHEN json_typeof(j.value -> 'weight') = 'number' THEN j.value ->> 'weight' END
                  AS double precision) AS weight
      FROM json_array_elements(CASE WHEN json_typeof(keywords) = 'array' THEN keywords ELSE '[]'::json END)
           AS j(value)
      WHERE json_typeof(j.value) = 'object'
    ) AS k
    WHERE k.target = 'category:' || category AND k.weight > 0
"""
PRIMARY_TERM = f"""
CREATE OR REPLACE FUNCTION huifang_primary_term(keywords json, category text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT r.term FROM ({_RANKED}) AS r WHERE r.rn = 1
$$
"""
# the other category keywords (all but the primary entry): the report's "shared keywords"
OTHER_TERMS = f"""
CREATE OR REPLACE FUNCTION huifang_other_terms(keywords json, category text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(r.term ORDER BY r.rn) FILTER (WHERE r.rn > 1), '{{}}') FROM ({_RANKED}) AS r
$$
"""
COLUMN = ("ALTER TABLE complaint ADD COLUMN IF NOT EXISTS matter_term text GENERATED ALWAYS AS "
          "(huifang_primary_term(keywords, category)) STORED, "
          "ADD COLUMN IF NOT EXISTS matter_others text[] GENERATED ALWAYS AS "
          "(huifang_other_terms(keywords, category)) STORED")
INDEX = ("CREATE INDEX IF NOT EXISTS ix_complaint_month_matter ON complaint (created_at, category, matter_term) "
         "INCLUDE (matter_others)")


PG_TRIGGER = """
CREATE OR REPLACE FUNCTION huifang_event_resolution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.to_status = 'resolved' THEN
    UPDATE complaint SET first_resolved_at = NEW.at
    WHERE id = NEW.complaint_id AND (first_resolved_at IS NULL OR first_resolved_at > NEW.at);
  ELSIF NEW.to_status = 'reopened' THEN
    UPDATE complaint SET reopens = reopens + 1 WHERE id = NEW.complaint_id;
  END IF;
  RETURN NULL;
END
$$
"""
PG_TRIGGER_ON = ("CREATE TRIGGER complaint_event_resolution AFTER INSERT ON complaint_event FOR EACH ROW "
                 "WHEN (NEW.to_status IN ('resolved', 'reopened')) EXECUTE FUNCTION huifang_event_resolution()")
SQLITE_TRIGGERS = (
    """CREATE TRIGGER complaint_event_resolved AFTER INSERT ON complaint_event WHEN NEW.to_status = 'resolved'
BEGIN
  UPDATE complaint SET first_resolved_at = NEW.at
  WHERE id = NEW.complaint_id AND (first_resolved_at IS NULL OR first_resolved_at > NEW.at);
END""",
    """CREATE TRIGGER complaint_event_reopened AFTER INSERT ON complaint_event WHEN NEW.to_status = 'reopened'
BEGIN
  UPDATE complaint SET reopens = reopens + 1 WHERE id = NEW.complaint_id;
END""",
)
PG_BACKFILL = """
UPDATE complaint AS c SET first_resolved_at = e.first_resolved, reopens = e.reopens
FROM (SELECT complaint_id, MIN(at) FILTER (WHERE to_status = 'resolved') AS first_resolved,
             COUNT(*) FILTER (WHERE to_status = 'reopened') AS reopens
      FROM complaint_event WHERE to_status IN ('resolved', 'reopened') GROUP BY complaint_id) AS e
WHERE c.id = e.complaint_id
"""
SQLITE_BACKFILL = """
UPDATE complaint SET
  first_resolved_at = (SELECT MIN(e.at) FROM complaint_event e
                       WHERE e.complaint_id = complaint.id AND e.to_status = 'resolved'),
  reopens = (SELECT COUNT(*) FROM complaint_event e WHERE e.complaint_id = complaint.id AND e.to_status = 'reopened')
WHERE id IN (SELECT complaint_id FROM complaint_event WHERE to_status IN ('resolved', 'reopened'))
"""


def upgrade() -> None:
    op.add_column("complaint", sa.Column("first_resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("complaint", sa.Column("reopens", sa.Integer(), nullable=False, server_default="0"))
    # callback rounds "due this month" (first attempt due in the month) without scanning the attempts
    op.create_index("ix_callback_attempt_first_due", "callback_attempt", ["due_at", "round_id"],
                    postgresql_where=sa.text("attempt_no = 1"), sqlite_where=sa.text("attempt_no = 1"))
    # the month's majors (1 % of the tickets) without scanning the month
    op.create_index("ix_complaint_major_month", "complaint", ["created_at"],
                    postgresql_where=sa.text("major IS true"), sqlite_where=sa.text("major IS 1"))
    if op.get_bind().dialect.name != "postgresql":
        op.execute(SQLITE_BACKFILL)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        return
    op.execute(PG_BACKFILL)
    op.execute(PG_TRIGGER)
    op.execute(PG_TRIGGER_ON)
    op.execute(PRIMARY_TERM)
    op.execute(OTHER_TERMS)
    op.execute(COLUMN)
    op.execute(INDEX)


def downgrade() -> None:
    op.drop_index("ix_complaint_major_month", table_name="complaint")
    op.drop_index("ix_callback_attempt_first_due", table_name="callback_attempt")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS complaint_event_resolved")
        op.execute("DROP TRIGGER IF EXISTS complaint_event_reopened")
        with op.batch_alter_table("complaint") as batch:
            batch.drop_column("reopens")
            batch.drop_column("first_resolved_at")
        return
    op.execute("DROP TRIGGER IF EXISTS complaint_event_resolution ON complaint_event")
    op.execute("DROP FUNCTION IF EXISTS huifang_event_resolution()")
    op.drop_column("complaint", "reopens")
    op.drop_column("complaint", "first_resolved_at")
    op.execute("DROP INDEX IF EXISTS ix_complaint_month_matter")
    op.execute("ALTER TABLE complaint DROP COLUMN IF EXISTS matter_term, DROP COLUMN IF EXISTS matter_others")
    op.execute("DROP FUNCTION IF EXISTS huifang_primary_term(json, text)")
    op.execute("DROP FUNCTION IF EXISTS huifang_other_terms(json, text)")
