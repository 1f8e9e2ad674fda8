"""The SQL a block of code sends, for the tests that count statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def recorded(engine) -> Iterator[list[str]]:
    """The statements ``engine`` (async or sync) executes inside the block, whitespace collapsed;
    BEGIN left out (SQLite's explicit BEGIN is not a query)."""
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(" ".join(statement.split()))

    target = getattr(engine, "sync_engine", engine)
    event.listen(target, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", keep)


@contextmanager
def simple_queries() -> Iterator[list[str]]:
    """The first word of every query asyncpg sends by the simple protocol inside the block — BEGIN,
    COMMIT and ROLLBACK go that way, statements with parameters do not — from any connection."""
    import asyncpg.connection

    sent: list[str] = []
    execute = asyncpg.connection.Connection.execute

    async def recording(self, query, *args, **kwargs):
        sent.append(query.strip().rstrip(";").split()[0].upper())
        return await execute(self, query, *args, **kwargs)

    asyncpg.connection.Connection.execute = recording
    try:
        yield sent
    finally:
        asyncpg.connection.Connection.execute = execute
