"""What people do with a ticket: accept, note, transfer, correct category or severity, pause,
mark sensitive, resolve; and the resident adding information.

Each function is one use case: it takes the actor and ``now``, checks in one write transaction
that the person may do it on the ticket as it is now, changes it (status only through
``lifecycle.transition``), stores the notices it causes in the outbox and commits. Refusals raise
``DeskError`` (a code and parameters) and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import CallbackRound, CategoryCorrection, Complaint, Resident, Staff, Team
from services import majors, outbox, procedure, routing
from services import staff as staff_service
from services.domain import Category, Severity, Status
from services.errors import DeskError
from services.lifecycle import OPEN_STATUSES, Actor, locked_ticket, record, transition
from services.notices import Notice, NoticeKind, to_resident, to_staff
from services.satisfaction import MANUAL_CLOSE_REASONS, CallbackPolicy, expected_callback, first_due, plan_round
from services.sla import SlaPolicy, plan_deadline, ticket_deadlines
from services.staff import can_supervise

NOTE_MAX = 1000


@dataclass
class Outcome:
    """What a use case did to the ticket and whom it told."""

    complaint: Complaint
    notices: list[Notice] = field(default_factory=list)
    changed: bool = True
    routing: staff_service.Routing | None = None
    round: CallbackRound | None = None


async def _done(session: AsyncSession, outcome: Outcome, now: datetime) -> Outcome:
    await outbox.commit_with(session, outcome.notices, now)
    return outcome


def _clean(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DeskError(f"{what}_empty")
    if len(value) > NOTE_MAX:
        raise DeskError(f"{what}_too_long", limit=NOTE_MAX)
    return value


def _require_holder(complaint: Complaint, staff: Staff) -> None:
    if complaint.assignee_id != staff.id:
        raise DeskError("not_holder", number=complaint.number)


def can_view(complaint: Complaint, staff: Staff) -> bool:
    """Staff see their team's tickets; desk agents, managers and admins see all."""
    return staff.role in ("manager", "admin", "desk") or complaint.assignee_id == staff.id or (
        staff.team_id is not None and complaint.team_id == staff.team_id
    )


def can_direct(complaint: Complaint, staff: Staff) -> bool:
    """Who may transfer or correct: the holder, the team supervisor, managers and admins."""
    return staff.role in ("manager", "admin") or complaint.assignee_id == staff.id or (
        staff.role == "supervisor" and complaint.team_id == staff.team_id
    )


def is_paused(complaint: Complaint) -> bool:
    return bool(complaint.pauses) and complaint.pauses[-1][1] is None


def _recompute(complaint: Complaint, policy: SlaPolicy, now: datetime) -> None:
    """Deadlines follow the pauses (the clock stops while waiting for the resident)."""
    complaint.respond_by, complaint.resolve_by = ticket_deadlines(policy, complaint, now)
    complaint.plan_by = plan_deadline(policy, complaint, now)


async def ticket_by_number(session: AsyncSession, number: str) -> Complaint | None:
    return (await session.exec(select(Complaint).where(Complaint.number == number.strip().upper()))).first()


# --- the holder's work ----------------------------------------------------------------------


async def accept(session: AsyncSession, ticket: Complaint | int, staff: Staff, *, now: datetime) -> Outcome:
    """The assignee takes the ticket on; the resident is told who handles it."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if complaint.status == Status.ACCEPTED.value and complaint.assignee_id == staff.id:
            raise DeskError("already_accepted", number=complaint.number)
        _require_holder(complaint, staff)
        complaint.accepted_at = complaint.accepted_at or now
        session.add(complaint)
        await transition(session, complaint, Status.ACCEPTED, actor=Actor.of_staff(staff), now=now, action="accept")
        notices = [to_resident(NoticeKind.ACCEPTED, complaint.resident_id, complaint.id, staff=staff.id)]
        return await _done(session, Outcome(complaint, notices), now)


async def add_note(session: AsyncSession, ticket: Complaint | int, staff: Staff, text: str, *,
                   now: datetime) -> Outcome:
    """A progress note from the holder, forwarded to the resident."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        _require_holder(complaint, staff)
        if complaint.status != Status.ACCEPTED.value:
            raise DeskError("accept_first_note", number=complaint.number)
        note = _clean(text, "note")
        record(session, complaint.id, "note", actor=Actor.of_staff(staff), now=now, note=note)
        complaint.updated_at = complaint.last_progress_at = now
        session.add(complaint)
        notices = [to_resident(NoticeKind.NOTE, complaint.resident_id, complaint.id, note=note)]
        return await _done(session, Outcome(complaint, notices), now)


async def resolve(session: AsyncSession, ticket: Complaint | int, staff: Staff, result: str, *,
                  policy: CallbackPolicy, now: datetime, on_spot: bool = False,
                  cause: procedure.Cause | None = None) -> Outcome:
    """The holder closes the work with a result note. In the same transaction: the resident's
    message and the satisfaction-callback round, so a crash can lose neither.

    A Ⅰ or Ⅱ ticket needs its cause (原因分析; ``cause``, or one recorded before) and, when the cause
    is ours, a corrective action with an owner and a due date (``procedure.apply_cause``)."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        _require_holder(complaint, staff)
        if complaint.status != Status.ACCEPTED.value:
            if complaint.status in (Status.ASSIGNED.value, Status.REOPENED.value):
                raise DeskError("accept_first_resolve", number=complaint.number)
            raise DeskError("status_not_allowed", number=complaint.number, status=complaint.status)
        note = _clean(result, "result")
        cause_notices = await procedure.apply_cause(session, complaint, staff, cause, now=now)
        complaint.resolved_on_spot = on_spot
        session.add(complaint)
        await transition(session, complaint, Status.RESOLVED, actor=Actor.of_staff(staff), now=now,
                         action="resolve", note=note, on_spot=on_spot)
        round_ = await plan_round(session, complaint, policy, now)
        # The resident is told when to expect the callback (the first attempt's day and time of day).
        expect = expected_callback(round_, await first_due(session, round_), policy, now)
        notices = [to_resident(NoticeKind.RESOLVED, complaint.resident_id, complaint.id, result=note,
                               **({"callback": expect} if expect else {}))] + cause_notices

        async def linked_round(other: Complaint) -> dict:
            other_round = await plan_round(session, other, policy, now)
            other_expect = expected_callback(other_round, await first_due(session, other_round), policy, now)
            return {"callback": other_expect} if other_expect else {}

        # 重大投诉: the linked tickets of the same matter are resolved together.
        notices += await majors.settle_linked(session, complaint, staff, now=now, resolve_with=note,
                                              plan_round=linked_round)
        return await _done(session, Outcome(complaint, notices, round=round_), now)


async def set_sensitive(session: AsyncSession, ticket: Complaint | int, staff: Staff, value: bool, *,
                        now: datetime) -> Outcome:
    """不便回访: the holder or the supervisor says the resident must not be called back."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, staff):
            raise DeskError("may_not_sensitive", number=complaint.number)
        if complaint.sensitive == value:
            return await _done(session, Outcome(complaint, changed=False), now)
        complaint.sensitive, complaint.updated_at = value, now
        session.add(complaint)
        record(session, complaint.id, "sensitive", actor=Actor.of_staff(staff), now=now, on=value)
        return await _done(session, Outcome(complaint), now)


async def pause(session: AsyncSession, ticket: Complaint | int, staff: Staff, policy: SlaPolicy, *,
                now: datetime) -> Outcome:
    """The holder waits on the resident: the SLA clock stops."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        _require_holder(complaint, staff)
        if complaint.status != Status.ACCEPTED.value:
            raise DeskError("accept_first_pause", number=complaint.number)
        if is_paused(complaint):
            raise DeskError("already_paused", number=complaint.number)
        complaint.pauses = [*complaint.pauses, [now.isoformat(), None]]
        _recompute(complaint, policy, now)
        complaint.updated_at = now
        session.add(complaint)
        record(session, complaint.id, "pause", actor=Actor.of_staff(staff), now=now)
        return await _done(session, Outcome(complaint), now)


def _resume(session: AsyncSession, complaint: Complaint, policy: SlaPolicy, actor: Actor, now: datetime) -> bool:
    if not is_paused(complaint):
        return False
    pauses = [list(p) for p in complaint.pauses]
    pauses[-1][1] = now.isoformat()
    complaint.pauses = pauses
    _recompute(complaint, policy, now)
    complaint.updated_at = now
    session.add(complaint)
    record(session, complaint.id, "resume", actor=actor, now=now)
    return True


async def resume(session: AsyncSession, ticket: Complaint | int, staff: Staff, policy: SlaPolicy, *,
                 now: datetime) -> Outcome:
    """Staff resume the clock; deadlines move by the pause."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        _require_holder(complaint, staff)
        changed = _resume(session, complaint, policy, Actor.of_staff(staff), now)
        return await _done(session, Outcome(complaint, changed=changed), now)


async def resident_info(session: AsyncSession, ticket: Complaint | int, resident: Resident, text: str, *,
                        policy: SlaPolicy, now: datetime) -> Outcome:
    """Additional information from the resident on their open ticket: the assignee gets it, and a
    paused clock runs again. ``changed`` is False when nobody holds the ticket yet."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if complaint.resident_id != resident.id:
            raise DeskError("info_not_own")
        if Status(complaint.status) not in OPEN_STATUSES:
            raise DeskError("info_not_open", number=complaint.number, status=complaint.status)
        note = _clean(text, "info")
        actor = Actor.of_resident(resident)
        record(session, complaint.id, "info", actor=actor, now=now, note=note)
        complaint.updated_at = now
        session.add(complaint)
        _resume(session, complaint, policy, actor, now)
        notices = ([to_staff(NoticeKind.RESIDENT_INFO, complaint.assignee_id, complaint.id, note=note)]
                   if complaint.assignee_id else [])
        return await _done(session, Outcome(complaint, notices, changed=bool(notices)), now)


# --- directing: transfer, category, severity -------------------------------------------------


async def _transfer(session: AsyncSession, complaint: Complaint, by: Staff, team: Team, to: Staff | None,
                    now: datetime) -> tuple[staff_service.Routing, list[Notice]]:
    if Status(complaint.status) not in OPEN_STATUSES:
        raise DeskError("transfer_not_open", number=complaint.number, status=complaint.status)
    if to is not None and (to.team_id != team.id or not to.active or to.telegram_id is None):
        raise DeskError("transfer_bad_target")
    if to is not None and to.id == complaint.assignee_id:
        raise DeskError("transfer_same_person", number=complaint.number, name=to.name)
    await routing.hold_routing_lock(session, team.id)
    assignee = to or await staff_service.choose_assignee(
        session, team, exclude={complaint.assignee_id} if complaint.assignee_id else set())
    if complaint.status == Status.ACCEPTED.value and assignee is None:
        raise DeskError("team_nobody", team=team.name)
    supervisor = await staff_service.supervisor_of(session, team.id)
    plan = staff_service.Routing(team=team, assignee=assignee, supervisor=supervisor,
                                 notify_supervisor=assignee is None and supervisor is not None)
    previous = complaint.assignee_id
    notices = await routing.assign(session, complaint, plan, actor=Actor.of_staff(by), now=now,
                                   header="transfer", by=by.name)
    if previous is not None and previous != by.id and (assignee is None or previous != assignee.id):
        notices.append(to_staff(NoticeKind.TRANSFERRED_AWAY, previous, complaint.id, by=by.name, team=team.name,
                                assignee=assignee.name if assignee else None))
    return plan, notices


async def transfer(session: AsyncSession, ticket: Complaint | int, by: Staff, *, team: Team,
                   to: Staff | None = None, now: datetime) -> Outcome:
    """Hand the ticket to another team (its least-loaded member) or a named person."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, by):
            raise DeskError("may_not_transfer", number=complaint.number)
        plan, notices = await _transfer(session, complaint, by, team, to, now)
        return await _done(session, Outcome(complaint, notices, routing=plan), now)


async def correct_category(session: AsyncSession, ticket: Complaint | int, by: Staff, category: str, *,
                           now: datetime) -> Outcome:
    """Record a category correction (kept for learning); when the category belongs to another team
    and the ticket is not yet being handled, it moves there. ``changed`` False: same category."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, by):
            raise DeskError("may_not_category", number=complaint.number)
        new = Category(category).value
        if new == complaint.category:
            return await _done(session, Outcome(complaint, changed=False), now)
        session.add(CategoryCorrection(complaint_id=complaint.id, staff_id=by.id, text=complaint.description,
                                       predicted=complaint.category, corrected=new, at=now))
        record(session, complaint.id, "category", actor=Actor.of_staff(by), now=now, old=complaint.category, new=new)
        complaint.category, complaint.updated_at = new, now
        complaint.uncertain, complaint.runner_up = False, None  # a person has decided
        session.add(complaint)
        outcome = Outcome(complaint)
        new_team = await staff_service.team_for_category(session, new)
        if new_team.id != complaint.team_id and Status(complaint.status) in (
                Status.NEW, Status.ASSIGNED, Status.REOPENED):
            outcome.routing, outcome.notices = await _transfer(session, complaint, by, new_team, None, now)
        return await _done(session, outcome, now)


async def confirm_category(session: AsyncSession, ticket: Complaint | int, by: Staff, *,
                           now: datetime) -> Outcome:
    """A close call checked by staff: the detected category stands (nothing to learn from)."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, by):
            raise DeskError("may_not_category", number=complaint.number)
        if not complaint.uncertain:
            return await _done(session, Outcome(complaint, changed=False), now)
        complaint.uncertain, complaint.runner_up, complaint.updated_at = False, None, now
        session.add(complaint)
        record(session, complaint.id, "category_checked", actor=Actor.of_staff(by), now=now, category=complaint.category)
        return await _done(session, Outcome(complaint), now)


async def set_severity(session: AsyncSession, ticket: Complaint | int, staff: Staff, severity: str,
                       policy: SlaPolicy, *, now: datetime) -> Outcome:
    """Correct the severity; the deadlines are recomputed from the filing time."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, staff):
            raise DeskError("may_not_severity", number=complaint.number)
        new = Severity(severity)
        if new.value == complaint.severity:
            return await _done(session, Outcome(complaint, changed=False), now)
        if Status(complaint.status) not in OPEN_STATUSES:
            raise DeskError("severity_not_open", number=complaint.number, status=complaint.status)
        record(session, complaint.id, "severity", actor=Actor.of_staff(staff), now=now,
               old=complaint.severity, new=new.value)
        complaint.severity, complaint.updated_at = new.value, now
        complaint.response_level = complaint.resolve_level = complaint.plan_level = 0  # warnings follow the new deadlines
        _recompute(complaint, policy, now)
        session.add(complaint)
        return await _done(session, Outcome(complaint), now)


# --- supervision: reviews ------------------------------------------------------------------


async def mark_reviewed(session: AsyncSession, ticket: Complaint | int, staff: Staff, note: str, *,
                        now: datetime) -> Outcome:
    """A middling rating (3) was looked at: the review flag is cleared, with who, when and a note."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_supervise(complaint, staff):
            raise DeskError("may_not_review", number=complaint.number)
        if not complaint.needs_review:
            raise DeskError("no_review_due", number=complaint.number)
        text = _clean(note, "review")
        complaint.needs_review = False
        complaint.reviewed_at, complaint.reviewed_by_id, complaint.review_note = now, staff.id, text
        complaint.updated_at = now
        session.add(complaint)
        record(session, complaint.id, "reviewed", actor=Actor.of_staff(staff), now=now, note=text)
        return await _done(session, Outcome(complaint), now)


async def set_complex(session: AsyncSession, ticket: Complaint | int, staff: Staff, policy: SlaPolicy, *,
                      now: datetime) -> Outcome:
    """A Ⅲ (general) ticket marked complex: the longer resolution allowance (7 working days by
    default) from its clock start; the resident is told the new date. ``changed`` False: already so."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_direct(complaint, staff):
            raise DeskError("may_not_severity", number=complaint.number)
        if complaint.severity != Severity.GENERAL.value:
            raise DeskError("complex_not_general", number=complaint.number)
        if Status(complaint.status) not in OPEN_STATUSES:
            raise DeskError("severity_not_open", number=complaint.number, status=complaint.status)
        if complaint.complex:
            return await _done(session, Outcome(complaint, changed=False), now)
        complaint.complex, complaint.updated_at = True, now
        complaint.resolve_level = 0  # the reminder follows the new deadline
        _recompute(complaint, policy, now)
        session.add(complaint)
        days = policy.general_complex.working_days if policy.general_complex else None
        record(session, complaint.id, "complex", actor=Actor.of_staff(staff), now=now,
               resolve_by=complaint.resolve_by.isoformat(), days=days)
        notices = [to_resident(NoticeKind.COMPLEX, complaint.resident_id, complaint.id, days=days)]
        return await _done(session, Outcome(complaint, notices), now)


# --- closing by hand and validity -------------------------------------------------------------

INVALID_REASONS = ("not_ours", "duplicate", "not_complaint", "unreasonable", "other")
CLOSABLE = OPEN_STATUSES | {Status.RESOLVED}


def _tell_assignee(complaint: Complaint, by: Staff, kind: NoticeKind, **params) -> list[Notice]:
    if complaint.assignee_id is None or complaint.assignee_id == by.id:
        return []
    return [to_staff(kind, complaint.assignee_id, complaint.id, by=by.name, **params)]


async def close_by_hand(session: AsyncSession, ticket: Complaint | int, staff: Staff, reason: str, note: str, *,
                        now: datetime) -> Outcome:
    """A manager closes a ticket with a reason (符合国家相关法律法规 / 超出公司管理权限) and a note.
    A later rating is still recorded but does not reopen it (``satisfaction.settle_round``)."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if staff.role not in ("manager", "admin"):
            raise DeskError("may_not_close", number=complaint.number)
        if reason not in MANUAL_CLOSE_REASONS:
            raise DeskError("close_reason_unknown")
        if Status(complaint.status) not in CLOSABLE:
            raise DeskError("close_not_open", number=complaint.number, status=complaint.status)
        text = _clean(note, "close_note")
        complaint.close_reason, complaint.close_note = reason, text
        session.add(complaint)
        await transition(session, complaint, Status.CLOSED, actor=Actor.of_staff(staff), now=now, action="close",
                         note=text, by_hand=True, reason=reason)
        notices = [to_resident(NoticeKind.CLOSED_BY_HAND, complaint.resident_id, complaint.id, reason=reason,
                               note=text)]
        notices += _tell_assignee(complaint, staff, NoticeKind.CLOSED_BY_HAND_STAFF, reason=reason)
        notices += await majors.settle_linked(session, complaint, staff, now=now, close_reason=reason, close_note=text)
        return await _done(session, Outcome(complaint, notices), now)


async def mark_invalid(session: AsyncSession, ticket: Complaint | int, staff: Staff, reason: str, explanation: str,
                       *, now: datetime) -> Outcome:
    """无效投诉: the team supervisor or a manager marks an open ticket invalid with a reason from the
    list and the explanation the resident receives. It stays searchable and is counted apart."""
    async with writing(session):
        complaint = await locked_ticket(session, ticket)
        if not can_supervise(complaint, staff):
            raise DeskError("may_not_invalid", number=complaint.number)
        if reason not in INVALID_REASONS:
            raise DeskError("invalid_reason_unknown")
        if Status(complaint.status) not in OPEN_STATUSES:
            raise DeskError("invalid_not_open", number=complaint.number, status=complaint.status)
        text = _clean(explanation, "invalid_note")
        complaint.invalid_reason, complaint.invalid_note = reason, text
        session.add(complaint)
        await transition(session, complaint, Status.INVALID, actor=Actor.of_staff(staff), now=now, action="invalid",
                         note=text, by_hand=True, reason=reason)
        notices = [to_resident(NoticeKind.INVALID, complaint.resident_id, complaint.id, reason=reason, note=text)]
        notices += _tell_assignee(complaint, staff, NoticeKind.INVALID_STAFF, reason=reason)
        return await _done(session, Outcome(complaint, notices), now)


# --- lookups --------------------------------------------------------------------------------


async def open_tickets_of(session: AsyncSession, staff: Staff) -> list[Complaint]:
    """The staff member's open tickets (in filing order; callers sort by deadline)."""
    statement = select(Complaint).where(
        Complaint.assignee_id == staff.id, col(Complaint.status).in_(("assigned", "accepted", "reopened"))
    ).order_by(col(Complaint.created_at), col(Complaint.id))
    return list((await session.exec(statement)).all())


async def corrections(session: AsyncSession) -> list[CategoryCorrection]:
    return list((await session.exec(select(CategoryCorrection).order_by(col(CategoryCorrection.id)))).all())
