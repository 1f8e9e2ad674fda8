""""The same matter": same category, same area and overlapping keywords (for merging and 重大投诉)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import Complaint, ComplaintEvent
from services.domain import Flag

OPEN = ("new", "assigned", "accepted", "reopened")
_AREA = re.compile(r"^\s*([0-9０-９一二三四五六七八九十百]+\s*(?:栋|号楼|幢|座|号))")
MAJOR_FLAG_REASONS = {Flag.LAWSUIT.value: "扬言起诉", Flag.MEDIA.value: "扬言媒体曝光", Flag.GROUP.value: "集体投诉"}


def area_of(location: str) -> str:
    """The building ("3栋") or, for places without one, the first four characters."""
    match = _AREA.match(location or "")
    if match:
        return re.sub(r"\s+", "", match.group(1)).replace("号楼", "栋").replace("幢", "栋")
    return re.sub(r"\s+", "", location or "")[:4]


def _bigrams(words: Iterable[str]) -> set[str]:
    return {word[i:i + 2] for word in words for i in range(len(word) - 1)}


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard overlap of the character pairs of two keyword sets.

    Pairs rather than whole words, so that 又坏了 / 坏了 or 没人修 / 没人来 still overlap.
    """
    first, second = _bigrams(a), _bigrams(b)
    return len(first & second) / len(first | second) if first and second else 0.0


@dataclass(frozen=True)
class MatterCheck:
    """What a new complaint is, relative to the open and recent ones."""

    merge_into: Complaint | None  # same resident, same matter, still open
    same_matter: list[Complaint]  # other residents' complaints on the same matter within the window


async def check(session: AsyncSession, *, resident_id: int, category: str, location: str, words: set[str],
                now: datetime, window: timedelta, threshold: float, tokens_of) -> MatterCheck:
    """Look for an open ticket of the same resident and for recent ones of others on the same matter."""
    area = area_of(location)
    rows = (await session.exec(select(Complaint).where(
        Complaint.category == category, Complaint.created_at >= now - window,
        col(Complaint.status).not_in(("cancelled", "invalid"))).order_by(col(Complaint.id)))).all()
    merge_into, same = None, []
    for other in rows:
        if area_of(other.location) != area or similarity(words, tokens_of(other.description)) < threshold:
            continue
        if other.resident_id == resident_id:
            if other.status in OPEN and merge_into is None:
                merge_into = other
        else:
            same.append(other)
    return MatterCheck(merge_into=merge_into, same_matter=same)


async def mark_major(session: AsyncSession, complaints: Sequence[Complaint], reason: str, now: datetime,
                     *, related_to: int | None = None) -> list[int]:
    """Upgrade to major (once per ticket); returns the ids that were newly upgraded."""
    upgraded = []
    await fresh_transaction(session)
    for complaint in complaints:
        values = {"major": True, "major_reason": reason[:64], "updated_at": now}
        if related_to is not None:
            values["related_to_id"] = related_to
        result = await session.exec(update(Complaint).where(Complaint.id == complaint.id,
                                                            col(Complaint.major).is_(False)).values(**values))
        if result.rowcount:
            session.add(ComplaintEvent(complaint_id=complaint.id, at=now, actor="system", action="major", note=reason))
            upgraded.append(complaint.id)
        elif related_to is not None:
            await session.exec(update(Complaint).where(Complaint.id == complaint.id).values(related_to_id=related_to))
    await session.commit()
    return upgraded


async def related(session: AsyncSession, complaint: Complaint) -> list[Complaint]:
    """Tickets linked as one matter with this one (for staff)."""
    root = complaint.related_to_id or complaint.id
    rows = await session.exec(select(Complaint).where(
        (Complaint.id == root) | (Complaint.related_to_id == root)).order_by(col(Complaint.id)))
    return [c for c in rows.all() if c.id != complaint.id]
