"""monthly report at scale: each ticket's primary keyword kept by PostgreSQL, and a covering index

The report's 重复问题TOP3 groups the month's tickets by (category, primary keyword): the
highest-weight keyword that voted for the ticket's own category (``services.report``). Expanding
every ticket's keyword list at report time costs seconds at a million tickets, so on PostgreSQL
the primary keyword is a stored generated column (``matter_term``, not in the ORM model), which
the database recomputes whenever ``keywords`` or ``category`` change — whatever writes them (the
ORM, Core bulk inserts, a staff correction of the category). Its function never raises: entries
that are not objects, or whose weight is not a number, are skipped.

The index (created_at, category, matter_term) lets the month's matters be counted from the index
alone. SQLite computes the primary keyword at report time (``services.report.recurring_matters``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

PRIMARY_TERM = """
CREATE OR REPLACE FUNCTION huifang_primary_term(keywords json, category text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT k.term FROM (
    SELECT j.value ->> 'term' AS term, j.value ->> 'target' AS target,
           CAST(CASE WHEN json_typeof(j.value -> 'weight') = 'number' THEN j.value ->> 'weight' END
                AS double precision) AS weight
    FROM json_array_elements(CASE WHEN json_typeof(keywords) = 'array' THEN keywords ELSE '[]'::json END)
         AS j(value)
    WHERE json_typeof(j.value) = 'object'
  ) AS k
  WHERE k.target = 'category:' || category AND k.weight > 0
  ORDER BY k.weight DESC, k.term
  LIMIT 1
$$
"""
COLUMN = ("ALTER TABLE complaint ADD COLUMN IF NOT EXISTS matter_term text GENERATED ALWAYS AS "
          "(huifang_primary_term(keywords, category)) STORED")
INDEX = "CREATE INDEX IF NOT EXISTS ix_complaint_month_matter ON complaint (created_at, category, matter_term)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PRIMARY_TERM)
    op.execute(COLUMN)
    op.execute(INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_complaint_month_matter")
    op.execute("ALTER TABLE complaint DROP COLUMN IF EXISTS matter_term")
    op.execute("DROP FUNCTION IF EXISTS huifang_primary_term(json, text)")
