"""Exactly-once handling of webhook updates across processes: a claim per ``update_id``.

Telegram retries a delivery that timed out or failed, possibly to another process behind the load
balancer. The first to claim an update handles it; a repeat of a finished one is acknowledged and
skipped; a repeat of one still being handled is refused for now (Telegram tries again later),
unless the claim is older than the lease (its process died) — then it is taken over. Finished
claims are forgotten after a window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import upsert_insert, writing
from models.tables import WebhookUpdate

NEW, DONE, BUSY = "new", "done", "busy"


async def claim(session: AsyncSession, update_id: int, *, now: datetime, lease: timedelta) -> str:
    """NEW: handle it; DONE: already handled, acknowledge; BUSY: being handled elsewhere, refuse for now."""
    table = WebhookUpdate.__table__
    insert = upsert_insert(session)
    async with writing(session):
        added = await session.exec(insert(table).values(update_id=update_id, state="handling", claimed_at=now)
                                   .on_conflict_do_nothing(index_elements=[table.c.update_id]))
        if added.rowcount:
            await session.commit()
            return NEW
        taken = await session.exec(update(WebhookUpdate).where(
            WebhookUpdate.update_id == update_id, WebhookUpdate.state == "handling",
            WebhookUpdate.claimed_at < now - lease).values(claimed_at=now))
        row = await session.get(WebhookUpdate, update_id)
        await session.commit()
    if taken.rowcount:
        return NEW
    return DONE if row is not None and row.state == "done" else BUSY


async def finish(session: AsyncSession, update_id: int, *, now: datetime) -> None:
    async with writing(session):
        await session.exec(update(WebhookUpdate).where(WebhookUpdate.update_id == update_id)
                           .values(state="done", done_at=now))
        await session.commit()


async def release(session: AsyncSession, update_id: int) -> None:
    """Handling failed before anything was done: let Telegram's retry try again at once."""
    async with writing(session):
        await session.exec(delete(WebhookUpdate).where(WebhookUpdate.update_id == update_id,
                                                       WebhookUpdate.state == "handling"))
        await session.commit()


async def forget_old(session: AsyncSession, *, now: datetime, window: timedelta) -> int:
    async with writing(session):
        result = await session.exec(delete(WebhookUpdate).where(WebhookUpdate.done_at < now - window))
        await session.commit()
    return result.rowcount or 0
