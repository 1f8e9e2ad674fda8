"""Keys of the integrations that hand complaints to the desk through /api/v1 (stored hashed)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import ApiKey
from services.errors import DeskError
from services.web_auth import hash_token

KEY = re.compile(r"hf_[A-Za-z0-9_-]{32,64}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


async def create_key(session: AsyncSession, name: str, *, now: datetime) -> tuple[ApiKey, str]:
    """A new key for the integration ``name``; the key itself is shown once and never stored."""
    if not NAME.fullmatch(name or ""):
        raise DeskError("api_key_name_invalid")
    if (await session.exec(select(ApiKey).where(ApiKey.name == name))).first() is not None:
        raise DeskError("api_key_exists", name=name)
    raw = "hf_" + secrets.token_urlsafe(32)
    await fresh_transaction(session)
    row = ApiKey(name=name, key_hash=hash_token(raw), prefix=raw[:10], created_at=now)
    session.add(row)
    await session.commit()
    return row, raw


async def authenticate(session: AsyncSession, raw: str | None, *, now: datetime) -> ApiKey | None:
    """The integration a key belongs to, if the key is known and not revoked."""
    if not raw or not KEY.fullmatch(raw):
        return None
    row = (await session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(raw)))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


async def revoke(session: AsyncSession, name: str, *, now: datetime) -> ApiKey:
    row = (await session.exec(select(ApiKey).where(ApiKey.name == name))).first()
    if row is None:
        raise DeskError("api_key_unknown", name=name)
    await fresh_transaction(session)
    await session.exec(update(ApiKey).where(ApiKey.id == row.id, col(ApiKey.revoked_at).is_(None))
                       .values(revoked_at=now))
    await session.commit()
    return row


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.exec(select(ApiKey).order_by(col(ApiKey.id)))).all()
