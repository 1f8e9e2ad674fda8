"""Satisfaction callbacks (满意度回访): plan rounds, queue due prompts, record answers, close.

The database is the truth: every attempt is a row with its due time and state. A tick queues
the due prompts as notices in the outbox in one transaction (an attempt is then "claimed"); the
delivery worker reports back when a prompt is out ("sent") or cannot be delivered ("failed").
A prompt held up by a flood limit or the network stays queued and does not count as an
unanswered attempt. Every state change is a conditional UPDATE, so two bot processes never
send the same prompt and a restart loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import CallbackAttempt, CallbackRound, Complaint, Resident, Staff
from services import outbox
from services import staff as staff_service
from services.domain import Kind, Status
from services.errors import DeskError
from services.lifecycle import Actor, record, transition
from services.notices import Notice, NoticeKind, to_resident, to_staff
from services.sla import SlaPolicy, ticket_deadlines
from services.slots import Slot, first_attempt_due, next_attempt_due, parse_slots, slot_of

RATINGS = (5, 4, 3, 2, 1)
NOT_SOLVED = 0
SKIP_REASONS = ("anonymous", "no_contact", "sensitive", "inquiry", "on_spot")


@dataclass(frozen=True)
class CallbackPolicy:
    """Every timing of the callback rules, from settings."""

    slots: tuple[Slot, ...]
    delay: timedelta
    answer_timeout: timedelta
    max_attempts: int
    tz: ZoneInfo
    close_no_callback_after: timedelta
    close_unreachable_after: timedelta
    major_by_person: bool = False  # major complaints: called back from the console, not prompted in Telegram

    @classmethod
    def from_settings(cls, settings) -> CallbackPolicy:
        return cls(
            slots=parse_slots(settings.callback_slots),
            delay=settings.callback_delay,
            answer_timeout=settings.callback_answer_timeout,
            max_attempts=settings.callback_max_attempts,
            tz=settings.tz,
            close_no_callback_after=settings.close_no_callback_after,
            close_unreachable_after=settings.close_unreachable_after,
            major_by_person=settings.callback_major_by_phone,
        )


def skip_reason(complaint: Complaint) -> str | None:
    """Why this ticket gets no callback (one of SKIP_REASONS), or None when it does."""
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


async def plan_round(session: AsyncSession, complaint: Complaint, policy: CallbackPolicy,
                     now: datetime) -> CallbackRound:
    """After a resolution, inside the resolve's own transaction: open a round with its first
    attempt, or record why none is made."""
    previous = (await session.exec(
        select(func.count()).select_from(CallbackRound).where(CallbackRound.complaint_id == complaint.id))).one()
    reason = skip_reason(complaint)
    round_ = CallbackRound(complaint_id=complaint.id, round_no=previous + 1, opened_at=now,
                           status="skipped" if reason else "open", skip_reason=reason,
                           closed_at=now if reason else None)
    session.add(round_)
    await session.flush()
    if reason:
        record(session, complaint.id, "callback_skipped", actor=Actor.system(), now=now, reason=reason)
    else:
        due = first_attempt_due(complaint.resolved_at or now, policy.delay, policy.slots, policy.tz)
        session.add(CallbackAttempt(round_id=round_.id, complaint_id=complaint.id, attempt_no=1, due_at=due))
        record(session, complaint.id, "callback_planned", actor=Actor.system(), now=now,
               round=round_.round_no, due=due.isoformat())
    return round_


def part_of_day(moment: datetime, slots: tuple[Slot, ...], tz: ZoneInfo) -> str:
    """morning | afternoon | evening: of the callback slot ``moment`` falls in, else of its local hour."""
    index = slot_of(moment, slots, tz) if slots else None
    local = slots[index].start if index is not None else moment.astimezone(tz).time()
    return "morning" if local.hour < 12 else "afternoon" if local.hour < 18 else "evening"


def expected_callback(round_: CallbackRound | None, due: datetime | None, policy: CallbackPolicy,
                      now: datetime) -> dict | None:
    """When the resident can expect to be asked for a rating (the first attempt's slot), relative to
    ``now``: ``{"days": 1, "part": "morning", "date": "2026-11-27"}``; None when no callback is made."""
    if round_ is None or round_.status != "open" or due is None:
        return None
    local = due.astimezone(policy.tz)
    return {"days": (local.date() - now.astimezone(policy.tz).date()).days,
            "part": part_of_day(due, policy.slots, policy.tz), "date": local.date().isoformat()}


async def first_due(session: AsyncSession, round_: CallbackRound) -> datetime | None:
    return (await session.exec(select(CallbackAttempt.due_at).where(CallbackAttempt.round_id == round_.id)
                               .order_by(col(CallbackAttempt.attempt_no)).limit(1))).first()


async def used_slots(session: AsyncSession, round_id: int) -> list[int]:
    rows = await session.exec(select(CallbackAttempt.slot).where(
        CallbackAttempt.round_id == round_id, col(CallbackAttempt.slot).is_not(None)))
    return [slot for slot in rows.all() if slot is not None]


async def queue_due_prompts(session: AsyncSession, *, policy: CallbackPolicy, now: datetime,
                            limit: int = 50) -> list[Notice]:
    """Due attempts, in one write transaction: a prompt notice each ("claimed"); one whose time
    of day is not allowed moves to the next window this round may use; one whose round is over
    is cancelled."""
    notices: list[Notice] = []
    async with writing(session):
        # Residents without Telegram (registered at the console), and major complaints when
        # CALLBACK_MAJOR_BY_PHONE is on, are called by a person: their attempts stay pending for
        # the console's callback queue (services.desk).
        due = (select(CallbackAttempt)
               .join(Complaint, Complaint.id == CallbackAttempt.complaint_id)
               .join(Resident, Resident.id == Complaint.resident_id)
               .where(CallbackAttempt.state == "pending", CallbackAttempt.due_at <= now,
                      col(Resident.chat_id).is_not(None))
               .order_by(col(CallbackAttempt.due_at), col(CallbackAttempt.id)).limit(limit))
        if policy.major_by_person:
            due = due.where(col(Complaint.major).is_(False))
        if session.bind.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=CallbackAttempt)
        for attempt in (await session.exec(due)).all():
            round_ = await session.get(CallbackRound, attempt.round_id)
            if round_.status != "open":
                attempt.state, attempt.finished_at = "cancelled", now
                session.add(attempt)
                continue
            used = await used_slots(session, round_.id)
            current = slot_of(now, policy.slots, policy.tz)
            allowed = current is not None and (current not in used or set(used) >= set(range(len(policy.slots))))
            if policy.slots and not allowed:
                # E.g. the bot was down during the slot: the next window this round may use.
                attempt.due_at = next_attempt_due(now, timedelta(0), policy.slots, policy.tz, used)
                session.add(attempt)
                continue
            complaint = await session.get(Complaint, attempt.complaint_id)
            attempt.state, attempt.claimed_at = "claimed", now
            session.add(attempt)
            notices.append(to_resident(NoticeKind.CALLBACK_PROMPT, complaint.resident_id, complaint.id,
                                       attempt=attempt.id))
        await outbox.commit_with(session, notices, now)
    return notices


async def prompt_delivered(session: AsyncSession, attempt_id: int, *, chat_id: int, message_id: int | None,
                           policy: CallbackPolicy, now: datetime) -> bool:
    """The prompt is out: remember where, and in which slot (a time of day used in this round)."""
    async with writing(session):
        result = await session.exec(
            update(CallbackAttempt).where(CallbackAttempt.id == attempt_id, CallbackAttempt.state == "claimed")
            .values(state="sent", sent_at=now, chat_id=chat_id, message_id=message_id,
                    slot=slot_of(now, policy.slots, policy.tz)))
        if result.rowcount:
            attempt = await session.get(CallbackAttempt, attempt_id)
            record(session, attempt.complaint_id, "callback_sent", actor=Actor.system(), now=now,
                   attempt=attempt.attempt_no)
        await session.commit()
    return bool(result.rowcount)


@dataclass(frozen=True)
class NoAnswer:
    """An attempt that got no answer, and what follows: another attempt or "unreachable"."""

    complaint_id: int
    attempt_no: int
    next_due: datetime | None  # None: the round is over, unreachable


async def _after_no_answer(session: AsyncSession, attempt: CallbackAttempt, policy: CallbackPolicy,
                           now: datetime, last_sent: datetime) -> NoAnswer:
    """Inside a write transaction: the next attempt at another time of day, or "unreachable"."""
    round_ = await session.get(CallbackRound, attempt.round_id)
    if round_.status != "open":
        return NoAnswer(attempt.complaint_id, attempt.attempt_no, None)
    if attempt.attempt_no >= policy.max_attempts:
        result = await session.exec(
            update(CallbackRound).where(CallbackRound.id == round_.id, CallbackRound.status == "open")
            .values(status="unreachable", closed_at=now))
        if result.rowcount:
            record(session, attempt.complaint_id, "callback_unreachable", actor=Actor.system(), now=now,
                   attempts=policy.max_attempts)
        return NoAnswer(attempt.complaint_id, attempt.attempt_no, None)
    used = await used_slots(session, round_.id)
    due = next_attempt_due(last_sent, policy.answer_timeout, policy.slots, policy.tz, used)
    due = max(due, now) if not policy.slots else due
    session.add(CallbackAttempt(round_id=round_.id, complaint_id=attempt.complaint_id,
                                attempt_no=attempt.attempt_no + 1, due_at=due))
    return NoAnswer(attempt.complaint_id, attempt.attempt_no, due)


async def prompt_undeliverable(session: AsyncSession, attempt_id: int, reason: str, *, policy: CallbackPolicy,
                               now: datetime) -> NoAnswer | None:
    """Refused for good (403: blocked, never started): counts as an attempt without an answer."""
    async with writing(session):
        result = await session.exec(
            update(CallbackAttempt).where(CallbackAttempt.id == attempt_id, CallbackAttempt.state == "claimed")
            .values(state="failed", finished_at=now, failure=reason[:200]))
        if not result.rowcount:
            await session.commit()
            return None
        attempt = await session.get(CallbackAttempt, attempt_id)
        record(session, attempt.complaint_id, "callback_failed", actor=Actor.system(), now=now,
               attempt=attempt.attempt_no, reason=reason[:100])
        outcome = await _after_no_answer(session, attempt, policy, now, last_sent=now)
        await session.commit()
    return outcome


async def expire_unanswered(session: AsyncSession, *, policy: CallbackPolicy, now: datetime) -> list[NoAnswer]:
    """Sent prompts whose answer time is over become "expired" (once, atomically) and are followed up."""
    outcomes = []
    async with writing(session):
        result = await session.exec(
            update(CallbackAttempt)
            .where(CallbackAttempt.state == "sent", CallbackAttempt.sent_at <= now - policy.answer_timeout)
            .values(state="expired", finished_at=now)
            .returning(CallbackAttempt.id)
        )
        for attempt_id in sorted(result.scalars().all()):
            attempt = await session.get(CallbackAttempt, attempt_id)
            outcomes.append(await _after_no_answer(session, attempt, policy, now, last_sent=attempt.sent_at))
        await session.commit()
    return outcomes


async def reviewer(session: AsyncSession, team_id: int | None) -> Staff | None:
    """Who reads middling and bad ratings: the team's supervisor, else the first manager or admin."""
    supervisor = await staff_service.supervisor_of(session, team_id)
    if supervisor is not None:
        return supervisor
    people = list(await staff_service.people_with_role(session, "manager", "admin"))
    return people[0] if people else None


def restart_clock(complaint: Complaint, sla: SlaPolicy, now: datetime) -> None:
    """After a reopen the deadlines count again from ``now``; warnings and nudges start over."""
    complaint.sla_started_at = now
    complaint.respond_by, complaint.resolve_by = ticket_deadlines(sla, complaint, now)
    complaint.response_level = complaint.resolve_level = 0
    complaint.last_progress_at, complaint.nudged_at = now, None


MANUAL_CLOSE_REASONS = ("lawful", "beyond_authority")  # 符合国家相关法律法规 / 超出公司管理权限


async def settle_round(session: AsyncSession, complaint: Complaint, round_id: int, rating: int, *, actor: Actor,
                       now: datetime, sla: SlaPolicy | None = None, comment: str | None = None,
                       answerable: tuple[str, ...] = ("open",), **data) -> tuple[str, list[Notice]] | None:
    """Inside the answer's write transaction: the round answered with ``rating`` (None if it is no
    longer in an ``answerable`` status), its prompts still waiting cancelled, the rating logged and
    acted on — ≥4 close, 3 close and flag for review, ≤2 / not solved reopen (deadlines start again).
    A ticket a manager closed by hand stays closed: the rating is only recorded ("recorded").
    The attempt that brought the answer is marked by the caller (it is "answered", not cancelled)."""
    values = {"status": "answered", "rating": rating, "closed_at": now, **({"comment": comment} if comment else {})}
    closed = await session.exec(
        update(CallbackRound).where(CallbackRound.id == round_id, col(CallbackRound.status).in_(answerable))
        .values(**values))
    if not closed.rowcount:
        return None
    await session.exec(update(CallbackAttempt).where(
        CallbackAttempt.round_id == round_id, col(CallbackAttempt.state).in_(("pending", "claimed", "sent")))
        .values(state="cancelled", finished_at=now))
    notices: list[Notice] = []
    record(session, complaint.id, "callback_answered", actor=actor, now=now, rating=rating, **data)
    if complaint.status == Status.CLOSED.value and complaint.close_reason in MANUAL_CLOSE_REASONS:
        return "recorded", notices
    if rating >= 3:
        outcome, to = ("closed" if rating >= 4 else "review"), Status.CLOSED
        complaint.close_reason = "satisfied" if rating >= 4 else "rated_3"
        complaint.needs_review = rating == 3
    else:
        outcome, to = "reopened", Status.REOPENED
    if complaint.status == Status.RESOLVED.value:
        restart = {}
        if to is Status.REOPENED and sla is not None:
            restart_clock(complaint, sla, now)
            restart = {"respond_by": complaint.respond_by.isoformat(), "resolve_by": complaint.resolve_by.isoformat()}
        session.add(complaint)
        await transition(session, complaint, to, actor=actor, now=now, rating=rating, **restart)
    who = await reviewer(session, complaint.team_id)
    assignee = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
    if outcome == "review" and who is not None:
        notices.append(to_staff(NoticeKind.RATING_REVIEW, who.id, complaint.id, rating=rating))
    if outcome == "reopened":
        if who is not None:
            notices.append(to_staff(NoticeKind.REOPENED_SUPERVISOR, who.id, complaint.id, rating=rating))
        if assignee is not None and (who is None or assignee.id != who.id):
            notices.append(to_staff(NoticeKind.REOPENED_ASSIGNEE, assignee.id, complaint.id, rating=rating))
    return outcome, notices


@dataclass(frozen=True)
class Answer:
    """What a rating did: ``closed``, ``review`` (3), ``reopened`` (≤2 / not solved), ``recorded`` (closed
    by hand: kept as it is), ``late`` or ``stale``."""

    outcome: str
    complaint: Complaint | None = None
    round: CallbackRound | None = None
    rating: int | None = None
    notices: list[Notice] = field(default_factory=list)


async def answer(session: AsyncSession, attempt_id: int, resident: Resident, rating: int, *,
                 now: datetime, sla: SlaPolicy | None = None) -> Answer:
    """Record a rating from a prompt's button; the round must still be open and the resident the owner.
    A reopen starts the response and resolution deadlines again from now (with ``sla``)."""
    if rating not in RATINGS and rating != NOT_SOLVED:
        return Answer("stale")
    attempt = await session.get(CallbackAttempt, attempt_id)
    complaint = await session.get(Complaint, attempt.complaint_id) if attempt else None
    # A prompt's button exists once it was delivered; "claimed" (delivered, not yet recorded) counts.
    if attempt is None or complaint is None or complaint.resident_id != resident.id or attempt.state == "pending":
        return Answer("stale")
    async with writing(session):
        complaint = await session.get(Complaint, complaint.id, populate_existing=True)
        settled = await settle_round(session, complaint, attempt.round_id, rating, actor=Actor.of_resident(resident),
                                     now=now, sla=sla)
        if settled is None:
            await session.commit()  # nothing changed; commit keeps the loaded objects usable
            return Answer("late", complaint, await session.get(CallbackRound, attempt.round_id), rating)
        await session.exec(update(CallbackAttempt).where(CallbackAttempt.id == attempt.id)
                           .values(state="answered", finished_at=now))
        outcome, notices = settled
        await outbox.commit_with(session, notices, now)
    round_ = await session.get(CallbackRound, attempt.round_id, populate_existing=True)
    return Answer(outcome, complaint, round_, rating, notices)


CALL_METHODS = ("phone", "visit", "sms", "survey")  # 电话 / 上门 / 短信 / 问卷; prompts in chat are "telegram"


async def open_round(session: AsyncSession, complaint_id: int) -> CallbackRound | None:
    """The ticket's latest callback round, if it is still open."""
    round_ = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == complaint_id)
                                 .order_by(col(CallbackRound.id).desc()).limit(1))).first()
    return round_ if round_ is not None and round_.status == "open" else None


async def record_call(session: AsyncSession, complaint_id: int, staff: Staff, method: str, rating: int | None, *,
                      policy: CallbackPolicy, now: datetime, sla: SlaPolicy | None = None) -> Answer:
    """A callback made by a person (回访人) by phone, visit, SMS or questionnaire (方式), as one attempt
    of the open round: ``rating`` None = nobody answered (the three-attempt rule applies), else the
    rating acts as if the resident had pressed it. Supervisors (their team) and managers record calls."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None:
        raise DeskError("no_ticket")
    if not (staff.role in ("manager", "admin") or (staff.role == "supervisor" and staff.team_id == complaint.team_id)):
        raise DeskError("may_not_call", number=complaint.number)
    if method not in CALL_METHODS or (rating is not None and rating not in RATINGS and rating != NOT_SOLVED):
        raise DeskError("call_bad_input")
    async with writing(session):
        complaint = await session.get(Complaint, complaint_id, populate_existing=True)
        round_ = await open_round(session, complaint.id)
        if round_ is None:
            raise DeskError("no_callback_open", number=complaint.number)
        made = (await session.exec(select(func.count()).select_from(CallbackAttempt)
                                   .where(CallbackAttempt.round_id == round_.id))).one()
        attempt = CallbackAttempt(round_id=round_.id, complaint_id=complaint.id, attempt_no=made + 1, due_at=now,
                                  state="answered" if rating is not None else "expired", claimed_at=now, sent_at=now,
                                  finished_at=now, method=method, caller_id=staff.id)
        session.add(attempt)
        actor = Actor.of_staff(staff)
        record(session, complaint.id, "callback_call", actor=actor, now=now, method=method, caller=staff.name,
               attempt=attempt.attempt_no, answered=rating is not None)
        notices: list[Notice] = []
        if rating is None:
            outcome = "unanswered"
            unanswered = (await session.exec(select(func.count()).select_from(CallbackAttempt).where(
                CallbackAttempt.round_id == round_.id,
                col(CallbackAttempt.state).in_(("expired", "failed"))))).one()
            if unanswered >= policy.max_attempts:
                await session.exec(update(CallbackRound).where(CallbackRound.id == round_.id,
                                                               CallbackRound.status == "open")
                                   .values(status="unreachable", closed_at=now))
                record(session, complaint.id, "callback_unreachable", actor=Actor.system(), now=now,
                       attempts=policy.max_attempts)
                outcome = "unreachable"
        else:
            await session.flush()  # the attempt made now is not one of those cancelled
            outcome, notices = await settle_round(session, complaint, round_.id, rating, actor=actor, now=now, sla=sla,
                                                  method=method)
        await outbox.commit_with(session, notices, now)
    return Answer(outcome, complaint, await session.get(CallbackRound, round_.id, populate_existing=True), rating,
                  notices)


async def callback_record(session: AsyncSession, complaint_id: int) -> list[tuple[CallbackRound, list[CallbackAttempt]]]:
    """回访记录: every round of the ticket with its attempts (time, 方式, 回访人, result)."""
    rounds = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == complaint_id)
                                 .order_by(col(CallbackRound.id)))).all()
    out = []
    for round_ in rounds:
        attempts = (await session.exec(select(CallbackAttempt).where(CallbackAttempt.round_id == round_.id)
                                       .order_by(col(CallbackAttempt.attempt_no), col(CallbackAttempt.id)))).all()
        out.append((round_, list(attempts)))
    return out


@dataclass(frozen=True)
class Comment:
    round: CallbackRound
    notices: list[Notice]


async def add_comment(session: AsyncSession, round_id: int, resident: Resident, text: str, *,
                      now: datetime) -> Comment | None:
    """The optional comment after a rating (kept on the round and in the log); the reviewer reads
    it when the rating was not "satisfied"."""
    round_ = await session.get(CallbackRound, round_id)
    complaint = await session.get(Complaint, round_.complaint_id) if round_ else None
    if round_ is None or complaint is None or complaint.resident_id != resident.id or round_.status != "answered":
        return None
    comment = " ".join(text.split())[:1000]
    notices: list[Notice] = []
    async with writing(session):
        round_.comment = comment
        session.add(round_)
        record(session, complaint.id, "callback_comment", actor=Actor.of_resident(resident), now=now, note=comment)
        if round_.rating is not None and round_.rating <= 3:
            who = await reviewer(session, complaint.team_id)
            if who is not None:
                notices.append(to_staff(NoticeKind.CALLBACK_COMMENT, who.id, complaint.id, comment=comment))
        await outbox.commit_with(session, notices, now)
    return Comment(round_, notices)


async def same_matter_since(session: AsyncSession, complaint: Complaint, since: datetime,
                            until: datetime | None = None) -> Complaint | None:
    """The first complaint on the same matter (same category, same building or place, any resident)
    filed after ``since`` (and not after ``until``), other than this one and not cancelled or invalid."""
    from services.matters import area_of

    window = [Complaint.created_at <= until] if until is not None else []
    rows = (await session.exec(select(Complaint).where(
        Complaint.category == complaint.category, Complaint.created_at > since, *window, Complaint.id != complaint.id,
        col(Complaint.status).not_in((Status.CANCELLED.value, Status.INVALID.value)))
        .order_by(col(Complaint.created_at), col(Complaint.id)))).all()
    area = area_of(complaint.location)
    return next((other for other in rows if area_of(other.location) == area), None)


async def close_due(session: AsyncSession, *, policy: CallbackPolicy, now: datetime) -> list[int]:
    """SPEC closing rules for resolved tickets without a satisfied answer: no callback → after 7 days,
    unreachable → after 15 days, in both cases only when no new complaint on the same matter (same
    category and place) arrived since the resolution. Such a ticket stays resolved; the supervisor
    is told once (a manager can close it by hand)."""
    closed: list[int] = []
    for status, after, reason in (("skipped", policy.close_no_callback_after, "no_callback"),
                                  ("unreachable", policy.close_unreachable_after, "unreachable")):
        latest = (select(CallbackRound.complaint_id, func.max(CallbackRound.id).label("round_id"))
                  .join(Complaint, Complaint.id == CallbackRound.complaint_id)
                  .where(Complaint.status == Status.RESOLVED.value)
                  .group_by(CallbackRound.complaint_id).subquery())
        rows = (await session.exec(
            select(Complaint, CallbackRound)
            .join(latest, latest.c.complaint_id == Complaint.id)
            .join(CallbackRound, CallbackRound.id == latest.c.round_id)
            .where(Complaint.status == Status.RESOLVED.value, CallbackRound.status == status,
                   CallbackRound.closed_at <= now - after))).all()
        for complaint, round_ in rows:
            # "meanwhile": between the resolution and the moment the rule closes the ticket
            newer = await same_matter_since(session, complaint, complaint.resolved_at or round_.opened_at,
                                            round_.closed_at + after)
            if newer is not None and complaint.close_held_at is not None:
                continue  # held before; the supervisor knows
            async with writing(session):
                complaint = await session.get(Complaint, complaint.id, populate_existing=True)
                if complaint.status != Status.RESOLVED.value:
                    await session.commit()
                    continue
                if newer is not None:
                    result = await session.exec(update(Complaint).where(
                        Complaint.id == complaint.id, col(Complaint.close_held_at).is_(None))
                        .values(close_held_at=now))
                    if result.rowcount:
                        record(session, complaint.id, "close_held", actor=Actor.system(), now=now, reason=reason,
                               newer=newer.number)
                        who = await reviewer(session, complaint.team_id)
                        if who is not None:
                            outbox.put(session, [to_staff(NoticeKind.CLOSE_HELD, who.id, complaint.id,
                                                          newer=newer.id, reason=reason)], now)
                    await session.commit()
                    continue
                complaint.close_reason = reason
                session.add(complaint)
                await transition(session, complaint, Status.CLOSED, actor=Actor.system(), now=now,
                                 reason=reason, skip=round_.skip_reason, after=int(after.total_seconds()))
                closed.append(complaint.id)
                await session.commit()
    return closed
