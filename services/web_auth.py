"""Console sign-in without passwords: one-time login links and sessions (stored hashed).

A staff member asks the bot (``/web``) or an admin runs ``python -m bot staff login``: a link
valid for a few minutes that works once. Opening it starts a session whose token lives in an
HttpOnly cookie; the table keeps only its hash and a CSRF token that every form must carry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import LoginLink, Staff, WebSession
from services.errors import DeskError

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_login_link(session: AsyncSession, staff: Staff, *, now: datetime,
                            ttl: timedelta = LINK_TTL) -> str:
    """A single-use login token for an active staff member; only its hash is stored."""
    if not staff.active:
        raise DeskError("staff_removed")
    token = secrets.token_urlsafe(24)
    await fresh_transaction(session)
    session.add(LoginLink(token_hash=hash_token(token), staff_id=staff.id, created_at=now, expires_at=now + ttl))
    await session.commit()
    return token


@dataclass(frozen=True)
class Opened:
    """A session that a login link opened: the cookie's token (never stored) and the row."""

    token: str
    web_session: WebSession
    staff: Staff


async def redeem_login_link(session: AsyncSession, token: str, *, now: datetime,
                            ttl: timedelta = SESSION_TTL) -> Opened:
    """Use a login link once and open a session; refuses unknown, used and expired links."""
    if not TOKEN.fullmatch(token or ""):
        raise DeskError("login_link_invalid")
    await fresh_transaction(session)
    claimed = await session.exec(
        update(LoginLink)
        .where(LoginLink.token_hash == hash_token(token), col(LoginLink.used_at).is_(None), LoginLink.expires_at > now)
        .values(used_at=now)
        .returning(LoginLink.staff_id))
    staff_id = claimed.scalar_one_or_none()
    if staff_id is None:
        await session.rollback()
        link = (await session.exec(select(LoginLink).where(LoginLink.token_hash == hash_token(token)))).first()
        if link is None:
            raise DeskError("login_link_invalid")
        raise DeskError("login_link_used" if link.used_at is not None else "login_link_expired")
    staff = await session.get(Staff, staff_id)
    if staff is None or not staff.active:
        await session.rollback()
        raise DeskError("staff_removed")
    raw = secrets.token_urlsafe(32)
    row = WebSession(token_hash=hash_token(raw), staff_id=staff_id, csrf=secrets.token_urlsafe(24),
                     created_at=now, expires_at=now + ttl)
    session.add(row)
    await session.commit()
    return Opened(raw, row, staff)


async def current(session: AsyncSession, token: str | None, *, now: datetime) -> tuple[Staff, WebSession] | None:
    """The staff member and session of a cookie's token, if the session is open and not expired."""
    if not token or not TOKEN.fullmatch(token):
        return None
    row = (await session.exec(select(WebSession).where(WebSession.token_hash == hash_token(token)))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    staff = await session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    return staff, row


def csrf_ok(web_session: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(web_session.csrf, submitted)


async def end_session(session: AsyncSession, web_session: WebSession, *, now: datetime) -> None:
    """Log out: the session's cookie stops working at once."""
    await fresh_transaction(session)
    await session.exec(update(WebSession).where(WebSession.id == web_session.id, col(WebSession.ended_at).is_(None))
                       .values(ended_at=now))
    await session.commit()


async def find_staff(session: AsyncSession, name_or_id: str) -> Staff:
    """An active staff member by id or by exact name (``staff login``)."""
    value = name_or_id.strip()
    if value.isdigit():
        staff = await session.get(Staff, int(value))
        found = [staff] if staff is not None and staff.active else []
    else:
        found = list((await session.exec(select(Staff).where(Staff.name == value, col(Staff.active).is_(True)))).all())
    if len(found) != 1:
        raise DeskError("staff_not_found" if not found else "staff_ambiguous", name=value)
    return found[0]
