"""Satisfaction callbacks (满意度回访): plan rounds, claim due prompts atomically, record answers, close.

The database is the truth: every attempt is a row with its due time and state, and every
state change is one conditional UPDATE, so two bot processes never send the same prompt and a
restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, Resident
from models.types import utcnow
from services.domain import Kind, Status
from services.durations import format_duration_zh
from services.slots import Slot, first_attempt_due, next_attempt_due, parse_slots, slot_of

RATING_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}
NOT_SOLVED = 0
SKIP_REASONS = {
    "anonymous": "匿名反映，无法回访",
    "no_contact": "没有联系方式",
    "sensitive": "标记为不便回访",
    "inquiry": "咨询类，无需回访",
    "on_spot": "现场解决且住户已确认满意",
}


@dataclass(frozen=True)
class CallbackPolicy:
    """Every timing of the callback rules, from settings."""

    slots: tuple[Slot, ...]
    delay: timedelta
    answer_timeout: timedelta
    max_attempts: int
    tz: ZoneInfo
    claim_timeout: timedelta
    close_no_callback_after: timedelta
    close_unreachable_after: timedelta

    @classmethod
    def from_settings(cls, settings) -> CallbackPolicy:
        return cls(
            slots=parse_slots(settings.callback_slots),
            delay=settings.callback_delay,
            answer_timeout=settings.callback_answer_timeout,
            max_attempts=settings.callback_max_attempts,
            tz=settings.tz,
            claim_timeout=max(timedelta(seconds=60), settings.scheduler_tick * 10),
            close_no_callback_after=settings.close_no_callback_after,
            close_unreachable_after=settings.close_unreachable_after,
        )


def skip_reason(complaint: Complaint) -> str | None:
    """Why this ticket gets no callback, or None when it does."""
    if complaint.anonymous:
        return "anonymous"
    if not complaint.contact_phone:
        return "no_contact"
    if complaint.sensitive:
        return "sensitive"
    if complaint.kind == Kind.INQUIRY.value:
        return "inquiry"
    if complaint.resolved_on_spot:
        return "on_spot"
    return None


def _event(complaint_id: int, action: str, now: datetime, note: str | None = None, *,
           from_status: str | None = None, to_status: str | None = None) -> ComplaintEvent:
    return ComplaintEvent(complaint_id=complaint_id, at=now, actor="system", action=action,
                          from_status=from_status, to_status=to_status, note=note)


async def plan_round(session: AsyncSession, complaint: Complaint, policy: CallbackPolicy,
                     now: datetime | None = None) -> CallbackRound:
    """After a resolution: open a round with its first attempt, or record why none is made."""
    now = now or utcnow()
    previous = (await session.exec(
        select(func.count()).select_from(CallbackRound).where(CallbackRound.complaint_id == complaint.id))).one()
    reason = skip_reason(complaint)
    await fresh_transaction(session)
    round_ = CallbackRound(complaint_id=complaint.id, round_no=previous + 1, opened_at=now,
                           status="skipped" if reason else "open", skip_reason=reason,
                           closed_at=now if reason else None)
    session.add(round_)
    await session.flush()
    if reason:
        session.add(_event(complaint.id, "callback_skipped", now, SKIP_REASONS[reason]))
    else:
        due = first_attempt_due(complaint.resolved_at or now, policy.delay, policy.slots, policy.tz)
        session.add(CallbackAttempt(round_id=round_.id, complaint_id=complaint.id, attempt_no=1, due_at=due))
        session.add(_event(complaint.id, "callback_planned", now,
                           f"第{round_.round_no}轮回访，首次 {due.astimezone(policy.tz):%Y-%m-%d %H:%M}"))
    await session.commit()
    return round_


async def release_stale_claims(session: AsyncSession, policy: CallbackPolicy, now: datetime) -> int:
    """Claims of a process that died before sending go back to the queue."""
    await fresh_transaction(session)
    result = await session.exec(
        update(CallbackAttempt)
        .where(CallbackAttempt.state == "claimed", CallbackAttempt.claimed_at < now - policy.claim_timeout)
        .values(state="pending", claimed_by=None, claimed_at=None)
    )
    await session.commit()
    return result.rowcount or 0


async def claim_due(session: AsyncSession, *, worker: str, now: datetime, limit: int = 50) -> list[int]:
    """Atomically take due attempts for this worker; a row is claimed by exactly one worker."""
    await fresh_transaction(session)
    due = (
        select(CallbackAttempt.id)
        .where(CallbackAttempt.state == "pending", CallbackAttempt.due_at <= now)
        .order_by(col(CallbackAttempt.due_at))
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        update(CallbackAttempt)
        .where(col(CallbackAttempt.id).in_(due.scalar_subquery()), CallbackAttempt.state == "pending")
        .values(state="claimed", claimed_by=worker, claimed_at=now)
        .returning(CallbackAttempt.id)
    )
    claimed = sorted(result.scalars().all())
    await session.commit()
    return claimed


@dataclass(frozen=True)
class PromptJob:
    """What the sender needs for one claimed attempt."""

    attempt: CallbackAttempt
    round: CallbackRound
    complaint: Complaint
    resident: Resident
    result_note: str | None


async def prepare(session: AsyncSession, attempt_id: int, *, worker: str, policy: CallbackPolicy,
                  now: datetime) -> PromptJob | None:
    """Decide whether a claimed attempt goes out now; if its window passed, move it to the next slot."""
    attempt = await session.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.state != "claimed" or attempt.claimed_by != worker:
        return None
    round_ = await session.get(CallbackRound, attempt.round_id)
    if round_.status != "open":
        await _finish(session, attempt.id, "cancelled", now, from_state="claimed")
        return None
    used = await used_slots(session, round_.id)
    current = slot_of(now, policy.slots, policy.tz)
    slot_allowed = current is not None and (current not in used or set(used) >= set(range(len(policy.slots))))
    if policy.slots and not slot_allowed:
        # E.g. the bot was down during the slot: move to the next window this round may use.
        new_due = next_attempt_due(now, timedelta(0), policy.slots, policy.tz, used)
        await fresh_transaction(session)
        await session.exec(
            update(CallbackAttempt).where(CallbackAttempt.id == attempt.id, CallbackAttempt.state == "claimed")
            .values(state="pending", due_at=new_due, claimed_by=None, claimed_at=None))
        await session.commit()
        return None
    complaint = await session.get(Complaint, attempt.complaint_id)
    resident = await session.get(Resident, complaint.resident_id)
    note = (await session.exec(
        select(ComplaintEvent.note).where(ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.action == "resolve")
        .order_by(col(ComplaintEvent.id).desc()).limit(1))).first()
    return PromptJob(attempt=attempt, round=round_, complaint=complaint, resident=resident, result_note=note)


async def used_slots(session: AsyncSession, round_id: int) -> list[int]:
    rows = await session.exec(select(CallbackAttempt.slot).where(
        CallbackAttempt.round_id == round_id, col(CallbackAttempt.slot).is_not(None)))
    return [slot for slot in rows.all() if slot is not None]


async def _finish(session: AsyncSession, attempt_id: int, state: str, now: datetime, *, from_state: str,
                  **values) -> bool:
    await fresh_transaction(session)
    result = await session.exec(
        update(CallbackAttempt).where(CallbackAttempt.id == attempt_id, CallbackAttempt.state == from_state)
        .values(state=state, finished_at=now, **values))
    await session.commit()
    return bool(result.rowcount)


async def mark_sent(session: AsyncSession, attempt_id: int, *, chat_id: int, message_id: int,
                    policy: CallbackPolicy, now: datetime) -> None:
    """The prompt is out: remember where, and in which slot (a time of day used in this round)."""
    await fresh_transaction(session)
    await session.exec(
        update(CallbackAttempt).where(CallbackAttempt.id == attempt_id, CallbackAttempt.state == "claimed")
        .values(state="sent", sent_at=now, chat_id=chat_id, message_id=message_id,
                slot=slot_of(now, policy.slots, policy.tz)))
    attempt = await session.get(CallbackAttempt, attempt_id)
    session.add(_event(attempt.complaint_id, "callback_sent", now, f"第{attempt.attempt_no}次回访已发送"))
    await session.commit()


@dataclass(frozen=True)
class NoAnswer:
    """An attempt that got no answer, and what follows: another attempt or "unreachable"."""

    complaint_id: int
    attempt_no: int
    next_due: datetime | None  # None: the round is over, unreachable


async def _after_no_answer(session: AsyncSession, attempt: CallbackAttempt, policy: CallbackPolicy,
                           now: datetime, last_sent: datetime) -> NoAnswer:
    round_ = await session.get(CallbackRound, attempt.round_id)
    if round_.status != "open":
        return NoAnswer(attempt.complaint_id, attempt.attempt_no, None)
    used = await used_slots(session, round_.id)
    await fresh_transaction(session)
    if attempt.attempt_no >= policy.max_attempts:
        result = await session.exec(
            update(CallbackRound).where(CallbackRound.id == round_.id, CallbackRound.status == "open")
            .values(status="unreachable", closed_at=now))
        if result.rowcount:
            session.add(_event(attempt.complaint_id, "callback_unreachable", now,
                               f"{policy.max_attempts}次回访均未回复，不再回访"))
        await session.commit()
        return NoAnswer(attempt.complaint_id, attempt.attempt_no, None)
    due = next_attempt_due(last_sent, policy.answer_timeout, policy.slots, policy.tz, used)
    due = max(due, now) if not policy.slots else due
    session.add(CallbackAttempt(round_id=round_.id, complaint_id=attempt.complaint_id,
                                attempt_no=attempt.attempt_no + 1, due_at=due))
    await session.commit()
    return NoAnswer(attempt.complaint_id, attempt.attempt_no, due)


async def mark_failed(session: AsyncSession, attempt_id: int, reason: str, *, policy: CallbackPolicy,
                      now: datetime) -> NoAnswer | None:
    """Undeliverable (403, network): counts as an attempt without an answer; the reason is kept."""
    if not await _finish(session, attempt_id, "failed", now, from_state="claimed", failure=reason[:200]):
        return None
    attempt = await session.get(CallbackAttempt, attempt_id)
    await fresh_transaction(session)
    session.add(_event(attempt.complaint_id, "callback_failed", now, f"第{attempt.attempt_no}次回访未送达：{reason[:100]}"))
    await session.commit()
    return await _after_no_answer(session, attempt, policy, now, last_sent=now)


async def expire_unanswered(session: AsyncSession, *, policy: CallbackPolicy, now: datetime) -> list[NoAnswer]:
    """Sent prompts whose answer time is over become "expired" (once, atomically) and are followed up."""
    await fresh_transaction(session)
    result = await session.exec(
        update(CallbackAttempt)
        .where(CallbackAttempt.state == "sent", CallbackAttempt.sent_at <= now - policy.answer_timeout)
        .values(state="expired", finished_at=now)
        .returning(CallbackAttempt.id)
    )
    expired = sorted(result.scalars().all())
    await session.commit()
    outcomes = []
    for attempt_id in expired:
        attempt = await session.get(CallbackAttempt, attempt_id)
        outcomes.append(await _after_no_answer(session, attempt, policy, now, last_sent=attempt.sent_at))
    return outcomes


@dataclass(frozen=True)
class Answer:
    """What a rating did: ``closed``, ``review`` (3), ``reopened`` (≤2 / not solved), ``late`` or ``stale``."""

    outcome: str
    complaint: Complaint | None = None
    round: CallbackRound | None = None
    rating: int | None = None


async def answer(session: AsyncSession, attempt_id: int, resident: Resident, rating: int, *,
                 now: datetime | None = None) -> Answer:
    """Record a rating from a prompt's button; the round must still be open and the resident the owner."""
    if rating not in RATING_LABELS and rating != NOT_SOLVED:
        return Answer("stale")
    attempt = await session.get(CallbackAttempt, attempt_id)
    complaint = await session.get(Complaint, attempt.complaint_id) if attempt else None
    if attempt is None or complaint is None or complaint.resident_id != resident.id or attempt.sent_at is None:
        return Answer("stale")
    now = now or utcnow()
    await fresh_transaction(session)
    closed = await session.exec(
        update(CallbackRound).where(CallbackRound.id == attempt.round_id, CallbackRound.status == "open")
        .values(status="answered", rating=rating, closed_at=now))
    if not closed.rowcount:
        await session.commit()  # nothing changed; commit keeps the loaded objects usable
        return Answer("late", complaint, await session.get(CallbackRound, attempt.round_id), rating)
    await session.exec(update(CallbackAttempt).where(CallbackAttempt.id == attempt.id)
                       .values(state="answered", finished_at=now))
    await session.exec(update(CallbackAttempt).where(
        CallbackAttempt.round_id == attempt.round_id, col(CallbackAttempt.state).in_(("pending", "claimed")))
        .values(state="cancelled", finished_at=now))
    label = "问题未解决" if rating == NOT_SOLVED else f"{rating}分 {RATING_LABELS[rating]}"
    session.add(_event(complaint.id, "callback_answered", now, label))
    if rating >= 3:
        outcome = "closed" if rating >= 4 else "review"
        to = Status.CLOSED
        complaint.close_reason = "satisfied" if rating >= 4 else "rated_3"
        complaint.needs_review = rating == 3
        complaint.closed_at = now
    else:
        outcome, to = "reopened", Status.REOPENED
    if complaint.status == Status.RESOLVED.value:
        session.add(_event(complaint.id, "status", now, label, from_status=complaint.status, to_status=to.value))
        complaint.status, complaint.updated_at = to.value, now
    session.add(complaint)
    await session.commit()
    round_ = await session.get(CallbackRound, attempt.round_id)
    return Answer(outcome, complaint, round_, rating)


async def add_comment(session: AsyncSession, round_id: int, resident: Resident, text: str, *,
                      now: datetime | None = None) -> CallbackRound | None:
    """The optional comment after a rating (kept on the round and in the log)."""
    round_ = await session.get(CallbackRound, round_id)
    complaint = await session.get(Complaint, round_.complaint_id) if round_ else None
    if round_ is None or complaint is None or complaint.resident_id != resident.id or round_.status != "answered":
        return None
    comment = " ".join(text.split())[:1000]
    await fresh_transaction(session)
    round_.comment = comment
    session.add(round_)
    session.add(ComplaintEvent(complaint_id=complaint.id, at=now or utcnow(), actor="resident",
                               actor_id=resident.telegram_id, action="callback_comment", note=comment))
    await session.commit()
    return round_


async def close_due(session: AsyncSession, *, policy: CallbackPolicy, now: datetime) -> list[int]:
    """SPEC closing rules for resolved tickets without a satisfied answer: no callback → after 7 days,
    unreachable → after 15 days. A newer complaint of the same resident and category is noted."""
    closed: list[int] = []
    for status, after, reason in (("skipped", policy.close_no_callback_after, "no_callback"),
                                  ("unreachable", policy.close_unreachable_after, "unreachable")):
        latest = (select(CallbackRound.complaint_id, func.max(CallbackRound.id).label("round_id"))
                  .group_by(CallbackRound.complaint_id).subquery())
        rows = (await session.exec(
            select(Complaint, CallbackRound)
            .join(latest, latest.c.complaint_id == Complaint.id)
            .join(CallbackRound, CallbackRound.id == latest.c.round_id)
            .where(Complaint.status == Status.RESOLVED.value, CallbackRound.status == status,
                   CallbackRound.closed_at <= now - after))).all()
        for complaint, _round in rows:
            newer = (await session.exec(select(Complaint.number).where(
                Complaint.resident_id == complaint.resident_id, Complaint.category == complaint.category,
                Complaint.created_at > complaint.resolved_at, Complaint.id != complaint.id))).first()
            await fresh_transaction(session)
            result = await session.exec(
                update(Complaint).where(Complaint.id == complaint.id, Complaint.status == Status.RESOLVED.value)
                .values(status=Status.CLOSED.value, closed_at=now, updated_at=now, close_reason=reason))
            if result.rowcount:
                period = format_duration_zh(after)
                note = (f"{SKIP_REASONS.get(_round.skip_reason, '无法回访')}，{period}内无新投诉，自动关闭"
                        if status == "skipped" else f"回访无法联系，{period}后自动关闭")
                if newer:
                    note += f"（同一事项已有新工单 {newer}）"
                session.add(_event(complaint.id, "status", now, note, from_status=Status.RESOLVED.value,
                                   to_status=Status.CLOSED.value))
                closed.append(complaint.id)
            await session.commit()
    return closed
