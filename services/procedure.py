"""Cause analysis and corrective actions (原因分析, 整改/纠正预防措施), handling plans and their approval
(处理方案, 审批) for Ⅰ and Ⅱ tickets (seeds 000 and 004).

- Resolving a Ⅰ/Ⅱ ticket needs a cause: a category from :data:`CAUSES` and a text. When the cause
  is ours (:data:`OUR_CAUSES`) a corrective action with an owner and a due date is required too
  (``handling.resolve`` calls :func:`apply_cause` in its transaction).
- Open corrective actions are watched like deadlines: the owner is reminded ``remind_before`` the
  due date, the supervisor (else managers) is told once when it is overdue; the owner, the
  supervisor or a manager marks it done with what was done.
- The assignee of a Ⅰ/Ⅱ ticket submits a handling plan by ``plan_by`` (set at filing, working
  time, see ``services.sla.plan_deadline``); the team supervisor (managers, admins) approves it or
  returns it with a reason. A missing or returned plan past ``plan_by`` escalates like a missed
  response: the supervisor, then managers after a second period.

Every function is one use case with its own write transaction; refusals are ``DeskError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import Complaint, CorrectiveAction, HandlingPlan, Staff
from services import outbox, routing
from services import staff as staff_service
from services.domain import Severity, Status
from services.errors import DeskError
from services.lifecycle import OPEN_STATUSES, Actor, locked_ticket, record
from services.notices import Notice, NoticeKind, to_staff
from services.sla import clock_start
from services.staff import can_supervise

CAUSES = ("equipment", "staff_conduct", "process", "third_party", "resident")  # 设施设备, 员工行为, 流程管理, 第三方, 住户方
OUR_CAUSES = frozenset({"equipment", "staff_conduct", "process"})
NEEDS_CAUSE = frozenset({Severity.URGENT.value, Severity.IMPORTANT.value})
NEEDS_PLAN = NEEDS_CAUSE
TEXT_MAX = 1000
PLAN_WAITING = (None, "returned")  # no plan in hand: missing, or returned for rework


@dataclass(frozen=True)
class Cause:
    """What the holder states when resolving: the cause and, when ours, the corrective action."""

    category: str
    text: str
    action: str | None = None  # 整改措施: what will be changed
    owner_id: int | None = None  # who carries it out (default: the person resolving)
    due_at: datetime | None = None


@dataclass
class Result:
    """What a use case here did and whom it told."""

    complaint: Complaint
    notices: list[Notice] = field(default_factory=list)
    plan: HandlingPlan | None = None
    action: CorrectiveAction | None = None


def _clean(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DeskError(f"{what}_empty")
    if len(value) > TEXT_MAX:
        raise DeskError(f"{what}_too_long", limit=TEXT_MAX)
    return value


def needs_cause(complaint: Complaint) -> bool:
    return complaint.severity in NEEDS_CAUSE


def needs_plan(complaint: Complaint) -> bool:
    return complaint.severity in NEEDS_PLAN


def is_ours(category: str | None) -> bool:
    return category in OUR_CAUSES


async def _done(session: AsyncSession, result: Result, now: datetime) -> Result:
    await outbox.commit_with(session, result.notices, now)
    return result


# --- cause and corrective action (inside handling.resolve) ------------------------------------


async def apply_cause(session: AsyncSession, complaint: Complaint, staff: Staff, cause: Cause | None, *,
                      now: datetime) -> list[Notice]:
    """Check and store the cause (and corrective action) of a ticket being resolved, inside the
    caller's write transaction. A Ⅰ/Ⅱ ticket without a cause is refused (``cause_required``); a
    cause of ours without a corrective action too (``action_required``)."""
    if cause is None:
        if needs_cause(complaint) and complaint.cause_category is None:
            raise DeskError("cause_required", number=complaint.number)
        return []
    if cause.category not in CAUSES:
        raise DeskError("cause_unknown")
    text = _clean(cause.text, "cause")
    notices: list[Notice] = []
    action = None
    if is_ours(cause.category):
        if not (cause.action or "").strip():
            raise DeskError("action_required", number=complaint.number)
        description = _clean(cause.action, "action")
        owner = await session.get(Staff, cause.owner_id) if cause.owner_id else staff
        if owner is None or not owner.active:
            raise DeskError("action_owner_unknown")
        if cause.due_at is None or cause.due_at <= now:
            raise DeskError("action_due_past")
        action = CorrectiveAction(complaint_id=complaint.id, description=description, owner_id=owner.id,
                                  created_by_id=staff.id, created_at=now, due_at=cause.due_at)
        session.add(action)
        await session.flush()
        if owner.id != staff.id:
            notices.append(to_staff(NoticeKind.ACTION_ASSIGNED, owner.id, complaint.id, action=action.id,
                                    by=staff.name))
    complaint.cause_category, complaint.cause_text = cause.category, text
    session.add(complaint)
    record(session, complaint.id, "cause", actor=Actor.of_staff(staff), now=now, note=text, cause=cause.category,
           **({"action_id": action.id, "owner": action.owner_id, "due_at": action.due_at.isoformat()} if action else {}))
    return notices


async def complete_action(session: AsyncSession, action_id: int, staff: Staff, note: str, *,
                          now: datetime) -> Result:
    """A corrective action carried out: what was done (the owner, the ticket's supervisor, managers)."""
    async with writing(session):
        action = await session.get(CorrectiveAction, action_id, populate_existing=True, with_for_update=True)
        if action is None:
            raise DeskError("no_action")
        complaint = await session.get(Complaint, action.complaint_id)
        if action.owner_id != staff.id and not can_supervise(complaint, staff):
            raise DeskError("may_not_action", number=complaint.number)
        if action.status == "done":
            raise DeskError("action_done_already", number=complaint.number)
        text = _clean(note, "action_note")
        action.status, action.done_at, action.done_by_id, action.done_note = "done", now, staff.id, text
        session.add(action)
        record(session, complaint.id, "action_done", actor=Actor.of_staff(staff), now=now, note=text,
               action_id=action.id)
        return await _done(session, Result(complaint, action=action), now)


async def actions_of(session: AsyncSession, complaint_id: int) -> list[CorrectiveAction]:
    return list((await session.exec(select(CorrectiveAction).where(CorrectiveAction.complaint_id == complaint_id)
                                     .order_by(col(CorrectiveAction.id)))).all())


async def open_actions_for(session: AsyncSession, staff: Staff) -> list[CorrectiveAction]:
    """Open corrective actions the person owns, or (supervisors) of their team's tickets; all for managers."""
    statement = select(CorrectiveAction).where(CorrectiveAction.status == "open")
    if staff.role in ("manager", "admin"):
        pass
    elif staff.role == "supervisor":
        statement = statement.join(Complaint, Complaint.id == CorrectiveAction.complaint_id).where(
            (CorrectiveAction.owner_id == staff.id) | (Complaint.team_id == staff.team_id))
    else:
        statement = statement.where(CorrectiveAction.owner_id == staff.id)
    return list((await session.exec(statement.order_by(col(CorrectiveAction.due_at), col(CorrectiveAction.id)))).all())


# --- handling plans ---------------------------------------------------------------------------


async def plans_of(session: AsyncSession, complaint_id: int) -> list[HandlingPlan]:
    return list((await session.exec(select(HandlingPlan).where(HandlingPlan.complaint_id == complaint_id)
                                    .order_by(col(HandlingPlan.id)))).all())


async def pending_plan(session: AsyncSession, complaint_id: int) -> HandlingPlan | None:
    return (await session.exec(select(HandlingPlan).where(HandlingPlan.complaint_id == complaint_id,
                                                          HandlingPlan.status == "submitted")
                               .order_by(col(HandlingPlan.id).desc()).limit(1))).first()


def may_submit_plan(complaint: Complaint, staff: Staff) -> bool:
    return (complaint.assignee_id == staff.id and needs_plan(complaint)
            and Status(complaint.status) in OPEN_STATUSES and complaint.plan_status in PLAN_WAITING)


async def submit_plan(session: AsyncSession, complaint_id: int, staff: Staff, text: str, *, now: datetime) -> Result:
    """The assignee's handling plan for a Ⅰ/Ⅱ ticket; the supervisor (else managers) is asked to decide."""
    async with writing(session):
        complaint = await locked_ticket(session, complaint_id)
        if complaint.assignee_id != staff.id:
            raise DeskError("not_holder", number=complaint.number)
        if not needs_plan(complaint):
            raise DeskError("plan_not_needed", number=complaint.number)
        if Status(complaint.status) not in OPEN_STATUSES:
            raise DeskError("plan_not_open", number=complaint.number, status=complaint.status)
        if complaint.plan_status == "submitted":
            raise DeskError("plan_pending", number=complaint.number)
        if complaint.plan_status == "approved":
            raise DeskError("plan_approved_already", number=complaint.number)
        body = _clean(text, "plan")
        plan = HandlingPlan(complaint_id=complaint.id, text=body, submitted_by_id=staff.id, submitted_at=now)
        session.add(plan)
        await session.flush()
        complaint.plan_status, complaint.updated_at = "submitted", now
        session.add(complaint)
        record(session, complaint.id, "plan_submitted", actor=Actor.of_staff(staff), now=now, note=body, plan=plan.id)
        deciders = [p for p in await routing.supervisor_or_managers(session, complaint.team_id) if p.id != staff.id]
        if not deciders:
            deciders = [p for p in await routing.managers(session) if p.id != staff.id]
        notices = [to_staff(NoticeKind.PLAN_SUBMITTED, p.id, complaint.id, plan=plan.id, by=staff.name)
                   for p in deciders]
        return await _done(session, Result(complaint, notices, plan=plan), now)


async def decide_plan(session: AsyncSession, complaint_id: int, staff: Staff, *, approve: bool,
                      reason: str | None = None, now: datetime) -> Result:
    """The supervisor (managers, admins) approves the pending plan, or returns it with a reason;
    the assignee is told either way. A returned plan counts as missing for the escalation."""
    async with writing(session):
        complaint = await locked_ticket(session, complaint_id)
        if not can_supervise(complaint, staff):
            raise DeskError("may_not_plan", number=complaint.number)
        plan = await pending_plan(session, complaint.id)
        if plan is None or complaint.plan_status != "submitted":
            raise DeskError("no_plan_pending", number=complaint.number)
        text = None if approve else _clean(reason, "plan_reason")
        plan.status = "approved" if approve else "returned"
        plan.decided_by_id, plan.decided_at, plan.return_reason = staff.id, now, text
        session.add(plan)
        complaint.plan_status, complaint.updated_at = plan.status, now
        if not approve:
            complaint.plan_level = 0  # past plan_by, a returned plan escalates again
        session.add(complaint)
        record(session, complaint.id, "plan_approved" if approve else "plan_returned", actor=Actor.of_staff(staff),
               now=now, note=text, plan=plan.id)
        notices = []
        if plan.submitted_by_id != staff.id:
            kind = NoticeKind.PLAN_APPROVED if approve else NoticeKind.PLAN_RETURNED
            notices.append(to_staff(kind, plan.submitted_by_id, complaint.id, plan=plan.id, by=staff.name))
        return await _done(session, Result(complaint, notices, plan=plan), now)


# --- the watch: missing plans, corrective actions due ----------------------------------------


async def _bump(session: AsyncSession, model, row_id: int, column: str, expected, value) -> bool:
    attribute = getattr(model, column)
    condition = col(attribute).is_(None) if expected is None else attribute == expected
    result = await session.exec(update(model).where(model.id == row_id, condition).values({column: value}))
    return bool(result.rowcount)


async def watch(session: AsyncSession, *, now: datetime, remind_before: timedelta) -> list[Notice]:
    """Plans missing (or returned) past ``plan_by`` and corrective actions near or past their due
    date, each alert claimed once (a conditional UPDATE); returns the notices stored."""
    notices: list[Notice] = []

    async def step(model, row_id: int, column: str, expected, value, build) -> None:
        async with writing(session):
            if await _bump(session, model, row_id, column, expected, value):
                found = await build()
                outbox.put(session, found, now)
                notices.extend(found)
            await session.commit()

    open_codes = [s.value for s in OPEN_STATUSES]
    late = (await session.exec(select(Complaint).where(
        col(Complaint.status).in_(open_codes), col(Complaint.plan_by).is_not(None), Complaint.plan_by <= now,
        Complaint.plan_level < 2))).all()
    for c in late:
        if c.plan_status not in PLAN_WAITING:
            continue
        second = c.plan_by + (c.plan_by - clock_start(c))  # a second period after the deadline
        if c.plan_level == 0:
            async def first(c=c) -> list[Notice]:
                return [to_staff(NoticeKind.PLAN_OVERDUE, p.id, c.id, returned=c.plan_status == "returned")
                        for p in await routing.supervisor_or_managers(session, c.team_id)]
            await step(Complaint, c.id, "plan_level", 0, 1, first)
        elif c.plan_level == 1 and now >= second:
            async def again(c=c) -> list[Notice]:
                return [to_staff(NoticeKind.PLAN_OVERDUE_MANAGER, p.id, c.id) for p in await routing.managers(session)]
            await step(Complaint, c.id, "plan_level", 1, 2, again)

    due = (await session.exec(select(CorrectiveAction).where(
        CorrectiveAction.status == "open", CorrectiveAction.due_at <= now + remind_before))).all()
    for a in due:
        if now >= a.due_at and a.escalated_at is None:
            async def overdue(a=a) -> list[Notice]:
                complaint = await session.get(Complaint, a.complaint_id)
                owner = await session.get(Staff, a.owner_id)
                team_id = (owner.team_id if owner and owner.team_id else complaint.team_id)
                people = await routing.supervisor_or_managers(session, team_id)
                if owner is not None and any(p.id == owner.id for p in people):
                    people = await routing.managers(session)  # the owner is the supervisor: one level up
                return [to_staff(NoticeKind.ACTION_OVERDUE, p.id, a.complaint_id, action=a.id) for p in people]
            await step(CorrectiveAction, a.id, "escalated_at", None, now, overdue)
        elif now < a.due_at and a.reminded_at is None:
            async def remind(a=a) -> list[Notice]:
                return [to_staff(NoticeKind.ACTION_REMINDER, a.owner_id, a.complaint_id, action=a.id)]
            await step(CorrectiveAction, a.id, "reminded_at", None, now, remind)
    return notices


async def team_members(session: AsyncSession, complaint: Complaint) -> list[Staff]:
    """Who may own a corrective action from chat: the ticket's team (bound, active)."""
    if complaint.team_id is None:
        return []
    return [p for p in await staff_service.list_staff(session) if p.team_id == complaint.team_id
            and p.active and p.telegram_id is not None]
