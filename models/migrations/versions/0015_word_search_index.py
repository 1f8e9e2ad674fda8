"""board search by words: a bigram full-text index on PostgreSQL

Chinese has no spaces, and most searches are two characters (电梯, 漏水), shorter than a trigram;
so each ticket's location and description are kept as the text's overlapping character pairs
(a stored, generated ``simple`` tsvector column, not in the ORM model) under a GIN index. The board looks the pairs up in the index, then checks
the exact substring with LIKE. SQLite keeps the plain LIKE scan.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BIGRAMS = """
CREATE OR REPLACE FUNCTION huifang_bigrams(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(substr(t, i, 2), ' '), '') FROM generate_series(1, char_length(t) - 1) AS i
$$
"""
# A stored column, so that a filter on it costs no bigram computation per row (services.desk.WORDS_DOCUMENT).
COLUMN = ("ALTER TABLE complaint ADD COLUMN IF NOT EXISTS search_words tsvector GENERATED ALWAYS AS "
          "(to_tsvector('simple'::regconfig, huifang_bigrams(location || ' ' || description))) STORED")
INDEX = "CREATE INDEX IF NOT EXISTS ix_complaint_words ON complaint USING gin (search_words)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BIGRAMS)
    op.execute(COLUMN)
    op.execute(INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_complaint_words")
    op.execute("ALTER TABLE complaint DROP COLUMN IF EXISTS search_words")
    op.execute("DROP FUNCTION IF EXISTS huifang_bigrams(text)")
