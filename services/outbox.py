"""The outbox: notices stored with the change that caused them, then claimed, sent and marked.

Use cases call :func:`put` inside their own transaction. A delivery worker (``bot.delivery``)
claims due rows with one conditional UPDATE (``SKIP LOCKED`` on PostgreSQL), so several
processes never take the same row; a claim older than the lease is taken again (the process
died mid-send: the one duplicate a crash can cause).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, event, update
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction, set_clause, set_values
from models.rows import new_row
from models.tables import OutboxNotice
from services.notices import Notice


_listeners: list[Callable[[], None]] = []


def on_commit(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` (in this process) whenever a transaction that stored notices commits;
    returns a function that removes it. The delivery worker uses it to send without waiting."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


@event.listens_for(Session, "after_commit")
def _notify_listeners(session: Session) -> None:
    if session.info.pop("outbox_put", False):
        for listener in list(_listeners):
            listener()


def put(session: AsyncSession, notices: Iterable[Notice], now: datetime) -> list[OutboxNotice]:
    """Add notices to the session's (write) transaction; they are stored when it commits."""
    rows = [new_row(OutboxNotice, kind=n.kind.value, audience=n.audience.value, recipient_id=n.recipient_id,
                    complaint_id=n.complaint_id, params=dict(n.params), created_at=now, due_at=now)
            for n in notices]
    if rows:
        session.add_all(rows)
        session.sync_session.info["outbox_put"] = True
    return rows


async def commit_with(session: AsyncSession, notices: Iterable[Notice], now: datetime) -> None:
    """End a use case: its notices stored in the same transaction as its change, then commit."""
    put(session, notices, now)
    await session.commit()


@functools.lru_cache(maxsize=2)
def _claim_statement(dialect: str):
    """:func:`claim`'s UPDATE … RETURNING, built once per dialect."""
    now = bindparam("now")
    due = (
        select(OutboxNotice.id)
        # A notice never tried is due at once; one held up (flood limit, network) waits for due_at.
        .where(((OutboxNotice.state == "pending") & ((OutboxNotice.tries == 0) | (OutboxNotice.due_at <= now)))
               | ((OutboxNotice.state == "claimed") & (OutboxNotice.claimed_at < bindparam("stale_before"))))
        .order_by(col(OutboxNotice.id))
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (update(OutboxNotice)
            .where(col(OutboxNotice.id).in_(due.scalar_subquery()))
            .values(state="claimed", claimed_by=bindparam("worker"), claimed_at=now, tries=OutboxNotice.tries + 1)
            .returning(OutboxNotice)
            .execution_options(synchronize_session=False, populate_existing=True))


async def claim(session: AsyncSession, *, worker: str, now: datetime, lease: timedelta,
                limit: int = 100) -> list[OutboxNotice]:
    """Take due notices for this worker (oldest first), including ones whose claim went stale."""
    await fresh_transaction(session)
    # The claimed rows come back from the UPDATE itself (RETURNING the whole row): no SELECT after it.
    result = await session.exec(_claim_statement(session.bind.dialect.name), params={
        "now": now, "stale_before": now - lease, "limit": limit, "worker": worker})
    rows = sorted(result.scalars().all(), key=lambda row: row.id)
    await session.commit()
    return rows


_OUTBOX = OutboxNotice.__table__


@functools.lru_cache(maxsize=8)
def _finish_statement(columns: tuple[str, ...]):
    """The UPDATE that ends a claim (sent, failed, back to pending), built once per set of columns."""
    return update(_OUTBOX).where(_OUTBOX.c.id == bindparam("notice"), _OUTBOX.c.state == "claimed",
                                 _OUTBOX.c.claimed_by == bindparam("worker")).values(set_clause(columns))


async def _finish(session: AsyncSession, notice_id: int, worker: str, **values) -> bool:
    await fresh_transaction(session)
    # A plain table UPDATE: the ORM's would first look for the row among the session's objects to
    # keep them in step (a third of the statement's CPU); the notice in hand is the worker's copy.
    result = await session.exec(_finish_statement(tuple(values)),
                                params={"notice": notice_id, "worker": worker, **set_values(values)})
    await session.commit()
    return bool(result.rowcount)


async def mark_sent(session: AsyncSession, notice_id: int, *, worker: str, message_id: int | None,
                    now: datetime) -> bool:
    return await _finish(session, notice_id, worker, state="sent", sent_at=now, message_id=message_id)


async def mark_failed(session: AsyncSession, notice_id: int, *, worker: str, error: str, now: datetime) -> bool:
    """Given up for good (e.g. the person blocked the bot)."""
    return await _finish(session, notice_id, worker, state="failed", sent_at=now, error=error[:200])


async def retry_later(session: AsyncSession, notice_id: int, *, worker: str, error: str, due_at: datetime) -> bool:
    """Not delivered now (flood limit, network): back to the queue for ``due_at``."""
    return await _finish(session, notice_id, worker, state="pending", due_at=due_at, claimed_by=None,
                         claimed_at=None, error=error[:200])


async def pending_count(session: AsyncSession) -> int:
    from sqlalchemy import func

    return (await session.exec(select(func.count()).select_from(OutboxNotice).where(
        col(OutboxNotice.state).in_(("pending", "claimed"))))).one()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop("outbox_put", None)


async def due_count(session: AsyncSession, *, now: datetime) -> int:
    """Notices waiting to be sent now (pending and due, or claimed and in hand)."""
    from sqlalchemy import func

    return (await session.exec(select(func.count()).select_from(OutboxNotice).where(
        ((OutboxNotice.state == "pending") & ((OutboxNotice.tries == 0) | (OutboxNotice.due_at <= now)))
        | (OutboxNotice.state == "claimed")
    ))).one()
