"""Ticket numbers: ``TS`` + local date + daily sequence, unique under concurrent submissions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction, upsert_insert
from models.tables import TicketCounter

PREFIX = "TS"


def format_number(day: str, sequence: int) -> str:
    """``TS20261122-0007``; the sequence widens past 9999 rather than wrapping."""
    return f"{PREFIX}{day}-{sequence:04d}"


_RESERVE: dict[str, object] = {}  # dialect name → the upsert, built once


def _reserve_statement(session: AsyncSession):
    dialect = session.bind.dialect.name
    statement = _RESERVE.get(dialect)
    if statement is None:
        table = TicketCounter.__table__
        statement = _RESERVE[dialect] = (
            upsert_insert(session)(table)
            .values(day=bindparam("day"), last=1)
            .on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
            .returning(table.c.last)
        )
    return statement


async def next_ticket_number(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> str:
    """Reserve the next number of the local day in one atomic upsert (inside the caller's transaction)."""
    day = now.astimezone(tz).strftime("%Y%m%d")
    connection = await session.connection()
    sequence = (await connection.execute(_reserve_statement(session), {"day": day})).scalar_one()
    return format_number(day, sequence)


async def reserve_ticket_number(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> str | None:
    """The next number of the local day, committed at once in a write transaction of its own; None
    on SQLite, where the filing's own transaction numbers the ticket.

    The day's counter is one row every filing locks: reserved inside the filing's transaction it
    stays locked until the filing commits, and concurrent filings queue behind each other for
    their whole length (under load most of the time a filing took). Reserved here it is held for
    one statement; a filing that fails after this leaves a gap — numbers are unique, not gapless.
    On SQLite every write transaction holds the database's write lock from its BEGIN, so a
    transaction more would only cost."""
    if session.bind.dialect.name == "sqlite":
        return None
    await fresh_transaction(session)
    number = await next_ticket_number(session, now=now, tz=tz)
    await session.commit()
    return number


def looks_like_ticket_number(text: str) -> bool:
    """Cheap shape check before a database lookup."""
    value = text.strip().upper()
    return value.startswith(PREFIX) and len(value) >= 14 and value[2:10].isdigit()
