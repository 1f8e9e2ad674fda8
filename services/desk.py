"""The customer-service desk's use cases (客服中心): the board, registering a complaint that came by
phone, visit, letter or another system (代客登记), and callbacks made by a person (电话回访).

Registration goes through the same filing use case as a Telegram complaint (numbering, routing,
pings, SLA); a phone callback follows the same rules as a rating given in chat (≥4 closes, ≤2 or
"not solved" reopens, three unanswered attempts → unreachable).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlalchemy import text as sa_text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction, writing
from models.tables import (CallbackAttempt, CallbackRound, CategoryCorrection, Complaint, ComplaintCreate, Resident,
                           Staff)
from services import outbox
from services.classify import Classifier
from services.domain import Category, Severity, Status
from services.errors import DeskError
from services.filing import Filing, MatterRules, file_complaint
from services.intake import normalize_phone, normalize_text, validate_description, validate_location
from services.lifecycle import OPEN_STATUSES, Actor, locked_ticket, record
from services.satisfaction import CALL_METHODS, NOT_SOLVED, RATINGS, CallbackPolicy, _after_no_answer, settle_round
from services.slots import next_attempt_due, slot_of
from services.sla import SlaPolicy

CHANNELS = ("phone", "visit", "letter", "app", "wechat", "other")
METHODS = CALL_METHODS  # the console offers the same ways of calling back as the chat
DESK_ROLES = ("desk", "manager", "admin")  # register complaints and make callbacks
ALL_TICKETS_ROLES = ("desk", "manager", "admin")  # see every ticket on the board
NAME_MAX = 64
SEARCH_COUNT_CAP = 1000  # a search by words counts this many matches, then says "1000+"
SOON = timedelta(hours=4)  # the SLA clock turns amber this long before a deadline
TICKET_NUMBER = re.compile(r"[A-Z]{1,4}\d[\d-]{5,}", re.IGNORECASE)  # TS20261125-0007 (a whole number)
PART_OF_NUMBER = re.compile(r"[A-Z-]*\d[\dA-Z-]*", re.IGNORECASE)  # 1125-00, TS2026: a piece of a number


def may_register(staff: Staff) -> bool:
    return staff.role in DESK_ROLES


MAJOR_CALLERS = ("supervisor", "manager", "admin")  # major complaints are called back by these


def may_call_back(staff: Staff) -> bool:
    return staff.role in DESK_ROLES or staff.role == "supervisor"


def by_person(complaint: Complaint, resident: Resident | None, policy: CallbackPolicy) -> bool:
    """Callbacks made by a person, not by a Telegram prompt: no Telegram, or a major complaint."""
    return (complaint.major and policy.major_by_person) or resident is None or resident.chat_id is None


# --- the board -------------------------------------------------------------------------------


def sla_state(complaint: Complaint, now: datetime) -> str:
    """The SLA clock's colour: ``done`` (finished), ``overdue``, ``soon`` or ``ok``."""
    if Status(complaint.status) not in OPEN_STATUSES:
        return "done"
    deadlines = [complaint.resolve_by]
    if complaint.accepted_at is None:
        deadlines.append(complaint.respond_by)
    deadlines = [d for d in deadlines if d is not None]
    if not deadlines:
        return "ok"
    first = min(deadlines)
    if first <= now:
        return "overdue"
    return "soon" if first - now <= SOON else "ok"


# PostgreSQL only: the location and description's character pairs, a generated column (migration 0015).
WORDS_DOCUMENT = "complaint.search_words"


def word_pairs(text: str) -> list[str]:
    """The overlapping character pairs of a search's words (电梯坏了 → 电梯 梯坏 坏了), lower-cased;
    pairs with punctuation or spaces are left out (the exact LIKE check covers them)."""
    pairs = {text[i:i + 2].lower() for i in range(len(text) - 1)}
    return sorted(pair for pair in pairs if pair.isalnum())


@dataclass
class BoardPage:
    rows: list[Complaint]
    total: int
    page: int
    pages: int
    more: bool = False  # a search with more than ``total`` matches (counted up to SEARCH_COUNT_CAP)


async def board(session: AsyncSession, viewer: Staff, *, now: datetime, status: str | None = None,
                team_id: int | None = None, overdue: bool = False, query: str | None = None, page: int = 1,
                category: str | None = None, severity: str | None = None, channel: str | None = None,
                major: bool = False, assignee_id: int | None = None, since: datetime | None = None,
                until: datetime | None = None, per_page: int = 25) -> BoardPage:
    """Tickets the viewer may see, newest first, filtered (filed in [since, until)); staff and
    supervisors see their team's."""
    conditions = []
    if viewer.role not in ALL_TICKETS_ROLES:
        conditions.append(or_(Complaint.assignee_id == viewer.id,
                              Complaint.team_id == viewer.team_id if viewer.team_id is not None else False))
    if status:
        conditions.append(Complaint.status == status)
    if team_id:
        conditions.append(Complaint.team_id == team_id)
    if category:
        conditions.append(Complaint.category == category)
    if severity:
        conditions.append(Complaint.severity == severity)
    if channel:
        conditions.append(Complaint.channel == channel)
    if major:
        conditions.append(col(Complaint.major).is_(True))
    if assignee_id:
        conditions.append(Complaint.assignee_id == assignee_id)
    if since is not None:
        conditions.append(col(Complaint.created_at) >= since)
    if until is not None:
        conditions.append(col(Complaint.created_at) < until)
    if overdue:
        open_codes = [s.value for s in OPEN_STATUSES]
        conditions.append(col(Complaint.status).in_(open_codes))
        conditions.append(or_(col(Complaint.resolve_by) <= now,
                              (col(Complaint.accepted_at).is_(None)) & (col(Complaint.respond_by) <= now)))
    text = " ".join((query or "").split())
    searching = False  # by words: the count stops at SEARCH_COUNT_CAP (a common word matches half the board)
    if text:
        if TICKET_NUMBER.fullmatch(text):
            conditions.append(Complaint.number == text.upper())
        elif re.fullmatch(r"\d{4}", text):
            conditions.append(col(Complaint.contact_phone).like(f"%{text}"))
        else:
            searching = True
            pattern = f"%{text.replace('%', '').replace('_', '')}%"
            # LIKE, not ILIKE: Chinese has no case, and case-folding every row is what makes this slow.
            found = or_(col(Complaint.location).like(pattern), col(Complaint.description).like(pattern))
            pairs = word_pairs(text)
            if pairs and session.bind is not None and session.bind.dialect.name == "postgresql":
                # The bigram index (migration 0015) finds the candidates; LIKE keeps only exact matches.
                found = found & sa_text(f"{WORDS_DOCUMENT} @@ plainto_tsquery('simple'::regconfig, :pairs)"
                                        ).bindparams(pairs=" ".join(pairs))
            if PART_OF_NUMBER.fullmatch(text):
                found = or_(col(Complaint.number).like(pattern.upper()), found)  # no index: only when it may be one
            conditions.append(found)
    order = (col(Complaint.created_at).desc(), col(Complaint.id).desc())
    counted = select(func.count()).select_from(Complaint).where(*conditions)
    if searching:
        counted = select(func.count()).select_from(
            select(Complaint.id).where(*conditions).limit(SEARCH_COUNT_CAP + 1).subquery())
    total = (await session.exec(counted)).one()
    more = total > SEARCH_COUNT_CAP if searching else False
    total = min(total, SEARCH_COUNT_CAP) if searching else total
    pages = max(1, -(-total // per_page))
    page = max(1, page if more else min(page, pages))
    rows = (await session.exec(select(Complaint).where(*conditions).order_by(*order)
                               .offset((page - 1) * per_page).limit(per_page))).all()
    return BoardPage(list(rows), total, page, max(pages, page), more)


# --- registering a complaint (代客登记) --------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What the desk agent typed."""

    channel: str
    name: str
    phone: str
    location: str
    description: str
    request: str = ""  # 诉求: what the resident asks for
    category: str = ""  # the agent's choice when it differs from the classifier's ("" = as detected)
    severity: str = ""
    photos: tuple[str, ...] = ()  # uploaded photos already kept (services.media references)


def check_registration(form: Registration, *, description_max: int = 2000, location_max: int = 200) -> tuple[
        str, str, str, str]:
    """Validated (name, phone, location, description); refusals say which field is wrong."""
    if form.channel not in CHANNELS:
        raise DeskError("channel_invalid")
    name = normalize_text(form.name)
    if not name or len(name) > NAME_MAX:
        raise DeskError("contact_name_invalid", limit=NAME_MAX)
    phone = normalize_phone(form.phone or "")
    if phone is None:
        raise DeskError("phone_invalid")
    location = validate_location(form.location, max_length=location_max)
    description = normalize_text(form.description)
    request = normalize_text(form.request)
    if request:
        description = f"{description}\n\n{request}" if description else request
    description = validate_description(description, max_length=description_max)
    return name, phone, location, description


async def resident_for_phone(session: AsyncSession, phone: str, name: str) -> Resident:
    """The resident this phone belongs to: one who uses the bot first (the ticket shows in their
    /my and callbacks go to Telegram), else a phone-only resident, created when new."""
    statement = (select(Resident).where(Resident.phone == phone)
                 .order_by(col(Resident.telegram_id).is_(None), col(Resident.id)))
    found = (await session.exec(statement)).first()
    if found is not None:
        return found
    await fresh_transaction(session)
    resident = Resident(telegram_id=None, chat_id=None, name=name[:128], phone=phone)
    session.add(resident)
    await session.commit()
    return resident


async def register(session: AsyncSession, registrar: Staff | None, form: Registration, *, classifier: Classifier,
                   tz, sla: SlaPolicy | None, rules: MatterRules, now: datetime,
                   draft_key: str | None = None, description_max: int = 2000) -> Filing:
    """A complaint that arrived by phone, visit, letter or another system: the same numbering,
    routing, pings and SLA as one filed in Telegram, with its channel and registrar recorded
    (``registrar`` None: handed over by an integration through the API)."""
    if registrar is not None and not may_register(registrar):
        raise DeskError("may_not_register")
    name, phone, location, description = check_registration(form, description_max=description_max)
    detected = classifier.classify(description)
    classification = detected
    if form.category and form.category != detected.category.value:
        try:
            classification = replace(classification, category=Category(form.category), uncertain=False,
                                     runner_up=None)
        except ValueError:
            raise DeskError("unknown_categories", unknown=form.category, known="") from None
    if form.severity and form.severity != detected.severity.value:
        try:
            classification = replace(classification, severity=Severity(form.severity))
        except ValueError:
            raise DeskError("severity_invalid") from None
    resident = await resident_for_phone(session, phone, name)
    data = ComplaintCreate(description=description, location=location, contact_name=name, contact_phone=phone,
                           channel=form.channel, registrar_id=registrar.id if registrar else None,
                           photos=list(form.photos))
    filing = await file_complaint(session, resident=resident, data=data, classification=classification,
                                  classifier=classifier, draft_key=draft_key or f"desk:{uuid.uuid4().hex}", tz=tz,
                                  sla=sla, rules=rules, now=now)
    if classification is not detected and not filing.merged:
        # The agent's choice is recorded like a staff correction (the classifier learns from it).
        async with writing(session):
            if classification.category != detected.category:
                session.add(CategoryCorrection(complaint_id=filing.complaint.id,
                                               staff_id=registrar.id if registrar else None, text=description,
                                               predicted=detected.category.value,
                                               corrected=classification.category.value, at=now))
            record(session, filing.complaint.id, "registered_as", actor=Actor.of_staff(registrar) if registrar
                   else Actor.system(), now=now, detected_category=detected.category.value,
                   detected_severity=detected.severity.value)
            await session.commit()
    return filing


# --- callbacks made by a person (电话回访) -------------------------------------------------------


@dataclass
class CallItem:
    """A callback that needs a person now: the ticket, its round, the calls made so far."""

    complaint: Complaint
    round: CallbackRound
    reason: str  # no_telegram | unanswered
    calls: list[CallbackAttempt] = field(default_factory=list)


async def _calls(session: AsyncSession, round_id: int) -> list[CallbackAttempt]:
    return list((await session.exec(select(CallbackAttempt).where(
        CallbackAttempt.round_id == round_id, col(CallbackAttempt.method) != "telegram")
        .order_by(col(CallbackAttempt.id)))).all())


def _fallback_due(calls: list[CallbackAttempt], round_: CallbackRound, policy: CallbackPolicy) -> datetime | None:
    """When the next phone call of a round whose Telegram prompts went unanswered is due."""
    if len(calls) >= policy.max_attempts:
        return None
    if not calls:
        return round_.closed_at
    used = [c.slot for c in calls if c.slot is not None]
    return next_attempt_due(calls[-1].finished_at, policy.answer_timeout, policy.slots, policy.tz, used)


async def call_queue(session: AsyncSession, *, policy: CallbackPolicy, now: datetime,
                     fallback: bool = True, viewer: Staff | None = None, limit: int = 200) -> list[CallItem]:
    """Callbacks due now that need a person: residents without Telegram and major complaints (their
    pending attempt is due; majors only for supervisors and managers) and, with ``fallback``,
    residents who left every Telegram prompt unanswered."""
    items: list[CallItem] = []
    majors = viewer is None or viewer.role in MAJOR_CALLERS
    no_telegram = col(Resident.chat_id).is_(None)
    if not policy.major_by_person:
        who = no_telegram if majors else no_telegram & col(Complaint.major).is_(False)
    else:
        who = or_(no_telegram, col(Complaint.major).is_(True)) if majors else no_telegram & col(Complaint.major).is_(False)
    rows = (await session.exec(
        select(Complaint, CallbackRound)
        .join(CallbackAttempt, CallbackAttempt.complaint_id == Complaint.id)
        .join(CallbackRound, CallbackRound.id == CallbackAttempt.round_id)
        .join(Resident, Resident.id == Complaint.resident_id)
        .where(CallbackAttempt.state == "pending", CallbackAttempt.due_at <= now, who,
               CallbackRound.status == "open", Complaint.status == Status.RESOLVED.value)
        .order_by(col(CallbackAttempt.due_at), col(Complaint.id)).limit(limit))).all()
    for complaint, round_ in rows:
        items.append(CallItem(complaint, round_, "major" if complaint.major else "no_telegram"))
    if fallback:
        latest = (select(CallbackRound.complaint_id, func.max(CallbackRound.id).label("round_id"))
                  .join(Complaint, Complaint.id == CallbackRound.complaint_id)
                  .where(Complaint.status == Status.RESOLVED.value)
                  .group_by(CallbackRound.complaint_id).subquery())
        made = (select(CallbackAttempt.round_id, func.count().label("calls"))
                .where(col(CallbackAttempt.method) != "telegram").group_by(CallbackAttempt.round_id).subquery())
        statement = (
            select(Complaint, CallbackRound)
            .join(latest, latest.c.complaint_id == Complaint.id)
            .join(CallbackRound, CallbackRound.id == latest.c.round_id)
            .outerjoin(made, made.c.round_id == CallbackRound.id)
            .where(CallbackRound.status == "unreachable", Complaint.status == Status.RESOLVED.value,
                   col(Complaint.contact_phone).is_not(None), func.coalesce(made.c.calls, 0) < policy.max_attempts)
            .order_by(col(CallbackRound.closed_at), col(Complaint.id)).limit(limit))
        if not majors:
            statement = statement.where(col(Complaint.major).is_(False))
        fallbacks = [CallItem(complaint, round_, "unanswered") for complaint, round_ in (await session.exec(statement)).all()]
        calls = await _calls_of(session, [item.round.id for item in fallbacks])
        for item in fallbacks:
            item.calls = calls.get(item.round.id, [])
            due = _fallback_due(item.calls, item.round, policy)
            if due is not None and due <= now:
                items.append(item)
    calls = await _calls_of(session, [item.round.id for item in items if item.reason != "unanswered"])
    for item in items:
        if item.reason != "unanswered":
            item.calls = calls.get(item.round.id, [])
    return items


async def _calls_of(session: AsyncSession, round_ids: list[int]) -> dict[int, list[CallbackAttempt]]:
    """The calls made by a person in each of these rounds, in one query per 500 rounds."""
    found: dict[int, list[CallbackAttempt]] = {}
    for start in range(0, len(round_ids), 500):
        chunk = round_ids[start:start + 500]
        rows = (await session.exec(select(CallbackAttempt).where(
            col(CallbackAttempt.round_id).in_(chunk), col(CallbackAttempt.method) != "telegram")
            .order_by(col(CallbackAttempt.id)))).all()
        for attempt in rows:
            found.setdefault(attempt.round_id, []).append(attempt)
    return found


@dataclass(frozen=True)
class CallResult:
    """What a recorded call did: ``not_reached`` (``next_due`` or unreachable), or the rating's
    outcome: ``closed``, ``review``, ``reopened``."""

    outcome: str
    complaint: Complaint
    attempt_no: int
    next_due: datetime | None = None


async def record_call(session: AsyncSession, complaint_id: int, caller: Staff, *, reached: bool,
                      rating: int | None, method: str, comment: str | None, policy: CallbackPolicy,
                      now: datetime, fallback: bool = True, sla: SlaPolicy | None = None) -> CallResult:
    """One callback made by a person: not reached (counts as one of the round's attempts; the next is
    offered at another time of day) or reached with a rating (or "not solved"); a reopen restarts
    the response and resolution deadlines under ``sla``."""
    if not may_call_back(caller):
        raise DeskError("may_not_call_back")
    if method not in METHODS:
        raise DeskError("method_invalid")
    if reached and (rating is None or (rating not in RATINGS and rating != NOT_SOLVED)):
        raise DeskError("rating_invalid")
    note = " ".join((comment or "").split())[:1000] or None
    async with writing(session):
        complaint = await locked_ticket(session, complaint_id)
        resident = await session.get(Resident, complaint.resident_id)
        round_ = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == complaint.id)
                                     .order_by(col(CallbackRound.id).desc()))).first()
        if round_ is None or complaint.status != Status.RESOLVED.value:
            raise DeskError("callback_not_due", number=complaint.number)
        if complaint.major and caller.role not in MAJOR_CALLERS:
            raise DeskError("major_callback_managers", number=complaint.number)
        calls = await _calls(session, round_.id)
        pending = None
        if round_.status == "open" and by_person(complaint, resident, policy):
            pending = (await session.exec(select(CallbackAttempt).where(
                CallbackAttempt.round_id == round_.id, CallbackAttempt.state == "pending")
                .order_by(col(CallbackAttempt.id)))).first()
            if pending is None or pending.due_at > now:
                raise DeskError("callback_not_due", number=complaint.number)
            attempt = pending
        elif fallback and round_.status == "unreachable" and (due := _fallback_due(calls, round_, policy)) is not None \
                and due <= now:
            attempt = CallbackAttempt(round_id=round_.id, complaint_id=complaint.id, attempt_no=len(calls) + 1,
                                      due_at=now)
        else:
            raise DeskError("callback_not_due", number=complaint.number)
        attempt.state = "answered" if reached else "expired"
        attempt.method, attempt.caller_id = method, caller.id
        attempt.claimed_at = attempt.sent_at = attempt.finished_at = now
        attempt.slot = slot_of(now, policy.slots, policy.tz)
        session.add(attempt)
        await session.flush()
        actor = Actor.of_staff(caller)
        record(session, complaint.id, "callback_call", actor=actor, now=now, note=note, attempt=attempt.attempt_no,
               method=method, reached=reached, rating=rating if reached else None, caller=caller.name)
        if not reached:
            if pending is not None:
                follow = await _after_no_answer(session, attempt, policy, now, last_sent=now)
                next_due = follow.next_due
            else:
                next_due = None
                if attempt.attempt_no >= policy.max_attempts:
                    record(session, complaint.id, "callback_unreachable", actor=Actor.system(), now=now,
                           attempts=policy.max_attempts, method=method)
                else:
                    next_due = _fallback_due([*calls, attempt], round_, policy)
            await session.commit()
            return CallResult("not_reached", complaint, attempt.attempt_no, next_due)
        settled = await settle_round(session, complaint, round_.id, rating, actor=actor, now=now, sla=sla,
                                     comment=note, answerable=("open", "unreachable"), method=method)
        if settled is None:
            raise DeskError("callback_not_due", number=complaint.number)
        outcome, notices = settled
        await outbox.commit_with(session, notices, now)
    return CallResult(outcome, complaint, attempt.attempt_no)
