""""The same matter": same category, same area and overlapping keywords (for merging and 重大投诉)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import set_clause, set_values
from models.tables import Complaint
from services import routing
from services.domain import Flag
from services.lifecycle import Actor, record
from services.notices import Notice, NoticeKind, to_staff
from services.vocabulary import vocabulary

OPEN = ("new", "assigned", "accepted", "reopened")
MAJOR_FLAGS = (Flag.LAWSUIT.value, Flag.MEDIA.value, Flag.GROUP.value)  # flags that make a ticket major


def _area_pattern() -> re.Pattern[str]:
    words = vocabulary()["address"]
    numerals = re.escape("".join(words["numerals"]))
    suffixes = "|".join(re.escape(s) for s in sorted(words["building_suffixes"], key=len, reverse=True))
    return re.compile(rf"^\s*([0-9{numerals}]+\s*(?:{suffixes}))")


_AREA = _area_pattern()


@functools.lru_cache(maxsize=4096)
def area_of(location: str) -> str:
    """The building ("3栋") or, for places without one, the first four characters (remembered per
    text: the same-matter check asks it of every recent complaint of the category on each filing)."""
    match = _AREA.match(location or "")
    if match:
        area = re.sub(r"\s+", "", match.group(1))
        for variant, canonical in vocabulary()["address"]["same_building"].items():
            area = area.replace(variant, canonical)
        return area
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
    """What a new complaint is, relative to the open and recent ones. ``merge_into`` and
    ``same_matter`` are rows of :data:`RECENT_COLUMNS` (id, resident_id, related_to_id …), not
    loaded tickets: filing needs their ids, and loads the one it merges into."""

    merge_into: Row | None  # same resident, same matter, still open
    same_matter: list[Row]  # other residents' complaints on the same matter within the window
    submitted: Complaint | None = None  # the ticket this very draft already became (a repeat)


# What the same-matter check compares: a few columns instead of whole tickets (64 columns each, a
# month of one category on every filing).
RECENT_COLUMNS = (Complaint.id, Complaint.resident_id, Complaint.related_to_id, Complaint.status,
                  Complaint.location, Complaint.description, Complaint.draft_key)
_RECENT_OF_CATEGORY = (
    select(*RECENT_COLUMNS)
    .where(Complaint.category == bindparam("category"), Complaint.created_at >= bindparam("since"),
           col(Complaint.status).not_in(("cancelled", "invalid")))
    .order_by(col(Complaint.id))
)


async def check(session: AsyncSession, *, resident_id: int, category: str, location: str, words: set[str],
                now: datetime, window: timedelta, threshold: float, tokens_of,
                draft_key: str | None = None) -> MatterCheck:
    """Look for an open ticket of the same resident and for recent ones of others on the same matter
    (and for the ticket ``draft_key`` already became: a submission handled again)."""
    area = area_of(location)
    rows = (await session.exec(_RECENT_OF_CATEGORY, params={"category": category, "since": now - window})).all()
    merge_into, same = None, []
    for other in rows:
        if draft_key is not None and other.draft_key == draft_key:
            submitted = await session.get(Complaint, other.id)
            if submitted is not None:
                return MatterCheck(merge_into=None, same_matter=[], submitted=submitted)
            continue  # deleted since: nothing was submitted after all
        if area_of(other.location) != area or similarity(words, tokens_of(other.description)) < threshold:
            continue
        if other.resident_id == resident_id:
            if other.status in OPEN and merge_into is None:
                merge_into = other
        else:
            same.append(other)
    return MatterCheck(merge_into=merge_into, same_matter=same)


def encode_reason(reason: dict) -> str:
    """A major reason as stored on the ticket: ``{"flags": [...]}``, ``{"residents": 3, "days": 30}``
    or ``{"age_days": 7}`` (rendered in each language by the front ends)."""
    return json.dumps(reason, ensure_ascii=False, separators=(",", ":"))[:64]


def decode_reason(stored: str | None) -> dict:
    try:
        value = json.loads(stored or "{}")
    except ValueError:  # a reason written before reasons were structured
        return {"text": stored}
    return value if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=8)
def _upgrade_statement(columns: tuple[str, ...]):
    """:func:`mark_major`'s upgrade of the tickets ``ids`` not yet major, built once per set of columns."""
    return (update(Complaint).where(col(Complaint.id).in_(bindparam("ids", expanding=True)),
                                    col(Complaint.major).is_(False))
            .values(set_clause(columns)).returning(Complaint.id).execution_options(synchronize_session=False))


_LINK = (update(Complaint).where(col(Complaint.id).in_(bindparam("ids", expanding=True)))
         .values(related_to_id=bindparam("related_to")).execution_options(synchronize_session=False))


async def mark_major(session: AsyncSession, complaints: Sequence[Complaint | Row], reason: dict, now: datetime,
                     *, related_to: int | None = None) -> list[int]:
    """Upgrade to major (once per ticket) inside the caller's write transaction; returns the ids
    that were newly upgraded. At most two statements whatever the number of tickets: one UPDATE
    that upgrades (RETURNING the ids it upgraded), one that links the others to ``related_to``.
    ``complaints`` are tickets, or rows with their ``id`` (as :func:`check` finds them); loaded
    tickets get the new values too."""
    ids = [complaint.id for complaint in complaints]
    if not ids:
        return []
    values = {"major": True, "major_reason": encode_reason(reason), "updated_at": now}
    if related_to is not None:
        values["related_to_id"] = related_to
    result = await session.exec(_upgrade_statement(tuple(values)), params={"ids": ids, **set_values(values)})
    newly = set(result.scalars().all())
    upgraded = []
    for complaint in complaints:
        if complaint.id in newly:
            record(session, complaint.id, "major", actor=Actor.system(), now=now, **reason)
            upgraded.append(complaint.id)
            if isinstance(complaint, Complaint):
                for name, value in values.items():
                    set_committed_value(complaint, name, value)
    others = [complaint for complaint in complaints if complaint.id not in newly]
    if related_to is not None and others:
        await session.exec(_LINK, params={"ids": [c.id for c in others], "related_to": related_to})
        for complaint in others:
            if isinstance(complaint, Complaint):
                set_committed_value(complaint, "related_to_id", related_to)
    return upgraded


async def major_notices(session: AsyncSession, complaint_ids: list[int]) -> list[Notice]:
    """重大投诉: every manager (else admin) gets the linked tickets listed together."""
    return [to_staff(NoticeKind.MAJOR_ALERT, person.id, complaint_ids[0], ids=list(complaint_ids))
            for person in await routing.managers(session)]


async def related(session: AsyncSession, complaint: Complaint) -> list[Complaint]:
    """Tickets linked as one matter with this one (for staff)."""
    root = complaint.related_to_id or complaint.id
    rows = await session.exec(select(Complaint).where(
        (Complaint.id == root) | (Complaint.related_to_id == root)).order_by(col(Complaint.id)))
    return [c for c in rows.all() if c.id != complaint.id]
