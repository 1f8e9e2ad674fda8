"""Filing a complaint: merge a repeat from the same resident, number and store a new one, and
upgrade to major when it threatens, is collective, or several residents report the same matter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Resident
from models.types import utcnow
from services import lifecycle, matters
from services.classify import Classification, Classifier, content_words
from services.sla import SlaPolicy


@dataclass(frozen=True)
class MatterRules:
    window: timedelta = timedelta(days=30)
    residents: int = 3
    similarity: float = 0.3

    @classmethod
    def from_settings(cls, settings) -> MatterRules:
        return cls(settings.matter_window, settings.matter_residents, settings.matter_similarity)


@dataclass
class Filing:
    """The outcome: a new ticket, or the open ticket the report was merged into; majors raised."""

    complaint: Complaint
    merged: bool = False
    major_ids: list[int] = field(default_factory=list)
    major_reason: str | None = None


async def file_complaint(session: AsyncSession, *, resident: Resident, data: ComplaintCreate,
                         classification: Classification, classifier: Classifier, draft_key: str, tz: ZoneInfo,
                         sla: SlaPolicy | None, rules: MatterRules, now: datetime | None = None) -> Filing:
    now = now or utcnow()
    words = content_words(classifier, data.description)
    check = await matters.check(
        session, resident_id=resident.id, category=classification.category.value, location=data.location,
        words=words, now=now, window=rules.window, threshold=rules.similarity,
        tokens_of=lambda text: content_words(classifier, text))
    if check.merge_into is not None:
        existing = check.merge_into
        await fresh_transaction(session)
        session.add(ComplaintEvent(complaint_id=existing.id, at=now, actor="resident", actor_id=resident.telegram_id,
                                   action="merged", note=data.description[:1000]))
        await session.commit()
        return Filing(complaint=existing, merged=True)

    complaint = await lifecycle.submit_complaint(
        session, resident=resident, data=data, classification=classification, draft_key=draft_key, tz=tz, sla=sla,
        now=now)
    filing = Filing(complaint=complaint)
    flag_reasons = [matters.MAJOR_FLAG_REASONS[f] for f in complaint.flags if f in matters.MAJOR_FLAG_REASONS]
    if flag_reasons:
        filing.major_reason = "、".join(flag_reasons)
        filing.major_ids = await matters.mark_major(session, [complaint], filing.major_reason, now)
    residents = {c.resident_id for c in check.same_matter} | {resident.id}
    if len(residents) >= rules.residents:
        group = [*check.same_matter, complaint]
        root = min(c.related_to_id or c.id for c in group)
        reason = f"{len(residents)}位住户{rules.window.days}天内反映同一问题"
        filing.major_reason = reason if not filing.major_reason else f"{filing.major_reason}；{reason}"
        filing.major_ids += await matters.mark_major(session, group, reason, now, related_to=root)
    if filing.major_ids:
        await session.refresh(complaint)
    return filing
