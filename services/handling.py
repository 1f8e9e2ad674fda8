"""What staff do with a ticket: assign, accept, note, transfer, correct the category, resolve.

Every function checks that the person may do it, changes the ticket, and writes an event;
refusals raise HandlingError with a message for the person and change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import fresh_transaction
from models.tables import CategoryCorrection, Complaint, ComplaintEvent, Resident, Staff, Team
from models.types import utcnow
from services import staff as staff_service
from services.domain import Category, Status
from services.lifecycle import OPEN_STATUSES, TRANSITIONS

NOTE_MAX = 1000


class HandlingError(ValueError):
    """Not allowed or not possible now; the message is shown to the person as is."""


def _event(complaint: Complaint, action: str, *, actor: str, actor_id: int | None, now: datetime,
           to: Status | None = None, note: str | None = None) -> ComplaintEvent:
    return ComplaintEvent(
        complaint_id=complaint.id, at=now, actor=actor, actor_id=actor_id, action=action,
        from_status=complaint.status if to else None, to_status=to.value if to else None, note=note,
    )


def _check_transition(complaint: Complaint, to: Status) -> None:
    if to not in TRANSITIONS[Status(complaint.status)]:
        raise HandlingError(f"工单 {complaint.number} 当前状态为「{Status(complaint.status).label}」，不能执行此操作。")


def _clean_note(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise HandlingError(f"{what}不能为空。")
    if len(value) > NOTE_MAX:
        raise HandlingError(f"{what}太长了，请控制在{NOTE_MAX}字以内。")
    return value


async def ticket_by_number(session: AsyncSession, number: str) -> Complaint | None:
    return (await session.exec(select(Complaint).where(Complaint.number == number.strip().upper()))).first()


async def assign(session: AsyncSession, complaint: Complaint, routing: staff_service.Routing, *,
                 actor: str = "system", actor_id: int | None = None, note: str | None = None,
                 now: datetime | None = None) -> None:
    """Give the ticket to the routed team and person (status assigned), or leave it with the team."""
    now = now or utcnow()
    await fresh_transaction(session)
    complaint.team_id = routing.team.id
    complaint.assignee_id = routing.assignee.id if routing.assignee else None
    complaint.updated_at = now
    if routing.assignee is not None:
        to = Status.ASSIGNED
        _check_transition(complaint, to)
        who = f"{routing.team.name} · {routing.assignee.name}"
        session.add(_event(complaint, "assign", actor=actor, actor_id=actor_id, now=now, to=to,
                           note=f"{note}：{who}" if note else who))
        complaint.status = to.value
        routing.assignee.last_assigned_at = now
        session.add(routing.assignee)
    else:
        session.add(_event(complaint, "queue", actor=actor, actor_id=actor_id, now=now,
                           note=f"{routing.team.name}暂无可派人员，等待主管分派"))
    session.add(complaint)
    await session.commit()


def _require_holder(complaint: Complaint, staff: Staff) -> None:
    if complaint.assignee_id != staff.id:
        raise HandlingError(f"工单 {complaint.number} 不在您名下，不能操作。")


def can_view(complaint: Complaint, staff: Staff) -> bool:
    """Staff see their team's tickets; managers and admins see all."""
    return staff.role in ("manager", "admin") or complaint.assignee_id == staff.id or (
        staff.team_id is not None and complaint.team_id == staff.team_id
    )


def can_direct(complaint: Complaint, staff: Staff) -> bool:
    """Who may transfer or correct: the holder, the team supervisor, managers and admins."""
    return staff.role in ("manager", "admin") or complaint.assignee_id == staff.id or (
        staff.role == "supervisor" and complaint.team_id == staff.team_id
    )


async def accept(session: AsyncSession, complaint: Complaint, staff: Staff, *, now: datetime | None = None) -> None:
    """The assignee takes the ticket on."""
    if complaint.status == Status.ACCEPTED.value and complaint.assignee_id == staff.id:
        raise HandlingError(f"工单 {complaint.number} 您已经接单了。")
    _require_holder(complaint, staff)
    _check_transition(complaint, Status.ACCEPTED)
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(_event(complaint, "accept", actor="staff", actor_id=staff.telegram_id, now=now, to=Status.ACCEPTED))
    complaint.status, complaint.updated_at = Status.ACCEPTED.value, now
    complaint.accepted_at = complaint.accepted_at or now
    session.add(complaint)
    await session.commit()


async def add_note(session: AsyncSession, complaint: Complaint, staff: Staff, text: str, *,
                   now: datetime | None = None) -> str:
    """A progress note from the holder; forwarded to the resident by the caller."""
    _require_holder(complaint, staff)
    if complaint.status != Status.ACCEPTED.value:
        raise HandlingError(f"请先接单，再填写工单 {complaint.number} 的处理进展。")
    note = _clean_note(text, "进展说明")
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(_event(complaint, "note", actor="staff", actor_id=staff.telegram_id, now=now, note=note))
    complaint.updated_at = complaint.last_progress_at = now
    session.add(complaint)
    await session.commit()
    return note


async def resolve(session: AsyncSession, complaint: Complaint, staff: Staff, result: str, *,
                  on_spot: bool = False, now: datetime | None = None) -> str:
    """The holder closes the work with a result note (the resident receives it)."""
    _require_holder(complaint, staff)
    if complaint.status != Status.ACCEPTED.value:
        if complaint.status in (Status.ASSIGNED.value, Status.REOPENED.value):
            raise HandlingError(f"请先接单，再办结工单 {complaint.number}。")
        _check_transition(complaint, Status.RESOLVED)
    note = _clean_note(result, "处理结果")
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(_event(complaint, "resolve", actor="staff", actor_id=staff.telegram_id, now=now,
                       to=Status.RESOLVED, note=note))
    complaint.status, complaint.updated_at, complaint.resolved_at = Status.RESOLVED.value, now, now
    complaint.resolved_on_spot = on_spot
    session.add(complaint)
    await session.commit()
    return note


async def set_sensitive(session: AsyncSession, complaint: Complaint, staff: Staff, value: bool, *,
                        now: datetime | None = None) -> None:
    """不便回访: the holder or the supervisor says the resident must not be called back."""
    if not can_direct(complaint, staff):
        raise HandlingError(f"您不能修改工单 {complaint.number} 的回访设置。")
    if complaint.sensitive == value:
        return
    now = now or utcnow()
    await fresh_transaction(session)
    complaint.sensitive, complaint.updated_at = value, now
    session.add(_event(complaint, "sensitive", actor="staff", actor_id=staff.telegram_id, now=now,
                       note="不便回访" if value else "取消不便回访"))
    session.add(complaint)
    await session.commit()


async def transfer(session: AsyncSession, complaint: Complaint, by: Staff, *, team: Team,
                   to: Staff | None = None, now: datetime | None = None) -> staff_service.Routing:
    """Hand the ticket to another team (its least-loaded member) or a named person."""
    if not can_direct(complaint, by):
        raise HandlingError(f"您不能转派工单 {complaint.number}。")
    if Status(complaint.status) not in OPEN_STATUSES:
        raise HandlingError(f"工单 {complaint.number} 已「{Status(complaint.status).label}」，不能转派。")
    if to is not None and (to.team_id != team.id or not to.active or to.telegram_id is None):
        raise HandlingError("只能转给该班组中已绑定的在职人员。")
    if to is not None and to.id == complaint.assignee_id:
        raise HandlingError(f"工单 {complaint.number} 已经在 {to.name} 名下。")
    assignee = to or await staff_service.choose_assignee(
        session, team, exclude={complaint.assignee_id} if complaint.assignee_id else set()
    )
    supervisor = await staff_service.supervisor_of(session, team.id)
    routing = staff_service.Routing(team=team, assignee=assignee, supervisor=supervisor,
                                    notify_supervisor=assignee is None and supervisor is not None)
    if complaint.status == Status.ACCEPTED.value and assignee is None:
        raise HandlingError(f"{team.name}目前没有可接单的人员。")
    await assign(session, complaint, routing, actor="staff", actor_id=by.telegram_id,
                 note=f"由 {by.name} 转派", now=now)
    return routing


async def correct_category(session: AsyncSession, complaint: Complaint, by: Staff, category: str, *,
                           now: datetime | None = None) -> bool:
    """Record a category correction (kept for learning); True when the category changed."""
    if not can_direct(complaint, by):
        raise HandlingError(f"您不能修改工单 {complaint.number} 的分类。")
    new = Category(category).value
    if new == complaint.category:
        return False
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(CategoryCorrection(complaint_id=complaint.id, staff_id=by.id, text=complaint.description,
                                   predicted=complaint.category, corrected=new, at=now))
    session.add(_event(complaint, "category", actor="staff", actor_id=by.telegram_id, now=now,
                       note=f"{complaint.category} → {new}"))
    complaint.category, complaint.updated_at = new, now
    session.add(complaint)
    await session.commit()
    return True


async def resident_info(session: AsyncSession, complaint: Complaint, resident: Resident, text: str, *,
                        now: datetime | None = None) -> str:
    """Additional information from the resident on their open ticket."""
    if complaint.resident_id != resident.id:
        raise HandlingError("只能补充您本人提交的工单。")
    if Status(complaint.status) not in OPEN_STATUSES:
        raise HandlingError(f"工单 {complaint.number} 已「{Status(complaint.status).label}」，如有新问题请发送 /new 重新反映。")
    note = _clean_note(text, "补充内容")
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(_event(complaint, "info", actor="resident", actor_id=resident.telegram_id, now=now, note=note))
    complaint.updated_at = now
    session.add(complaint)
    await session.commit()
    return note


async def open_tickets_of(session: AsyncSession, staff: Staff) -> list[Complaint]:
    """The staff member's open tickets, most urgent deadline first (creation order for now)."""
    statement = select(Complaint).where(
        Complaint.assignee_id == staff.id, col(Complaint.status).in_(("assigned", "accepted", "reopened"))
    ).order_by(col(Complaint.created_at), col(Complaint.id))
    return list((await session.exec(statement)).all())


async def corrections(session: AsyncSession) -> list[CategoryCorrection]:
    return list((await session.exec(select(CategoryCorrection).order_by(col(CategoryCorrection.id)))).all())


def _recompute(complaint: Complaint, policy, now: datetime) -> None:
    """Deadlines follow the pauses (the clock stops while waiting for the resident)."""
    from services.sla import deadlines, parse_pauses

    complaint.respond_by, complaint.resolve_by = deadlines(
        policy, complaint.severity, complaint.created_at, pauses=parse_pauses(complaint.pauses), now=now)


def is_paused(complaint: Complaint) -> bool:
    return bool(complaint.pauses) and complaint.pauses[-1][1] is None


async def pause(session: AsyncSession, complaint: Complaint, staff: Staff, policy, *,
                now: datetime | None = None) -> None:
    """The holder waits on the resident: the SLA clock stops."""
    _require_holder(complaint, staff)
    if complaint.status != Status.ACCEPTED.value:
        raise HandlingError(f"请先接单，再暂停工单 {complaint.number} 的计时。")
    if is_paused(complaint):
        raise HandlingError(f"工单 {complaint.number} 已在等待住户。")
    now = now or utcnow()
    await fresh_transaction(session)
    complaint.pauses = [*complaint.pauses, [now.isoformat(), None]]
    _recompute(complaint, policy, now)
    complaint.updated_at = now
    session.add(_event(complaint, "pause", actor="staff", actor_id=staff.telegram_id, now=now, note="等待住户，暂停计时"))
    session.add(complaint)
    await session.commit()


async def resume(session: AsyncSession, complaint: Complaint, policy, *, actor: str, actor_id: int | None,
                 now: datetime | None = None) -> bool:
    """The resident answered (or staff resume): the clock runs again; deadlines move by the pause."""
    if not is_paused(complaint):
        return False
    now = now or utcnow()
    await fresh_transaction(session)
    pauses = [list(p) for p in complaint.pauses]
    pauses[-1][1] = now.isoformat()
    complaint.pauses = pauses
    _recompute(complaint, policy, now)
    complaint.updated_at = now
    session.add(_event(complaint, "resume", actor=actor, actor_id=actor_id, now=now, note="恢复计时"))
    session.add(complaint)
    await session.commit()
    return True


async def set_severity(session: AsyncSession, complaint: Complaint, staff: Staff, severity: str, policy, *,
                       now: datetime | None = None) -> bool:
    """Correct the severity; the deadlines are recomputed from the filing time. True if changed."""
    from services.domain import Severity

    if not can_direct(complaint, staff):
        raise HandlingError(f"您不能修改工单 {complaint.number} 的级别。")
    new = Severity(severity)
    if new.value == complaint.severity:
        return False
    if Status(complaint.status) not in OPEN_STATUSES:
        raise HandlingError(f"工单 {complaint.number} 已「{Status(complaint.status).label}」，不能修改级别。")
    now = now or utcnow()
    await fresh_transaction(session)
    session.add(_event(complaint, "severity", actor="staff", actor_id=staff.telegram_id, now=now,
                       note=f"{Severity(complaint.severity).label} → {new.label}"))
    complaint.severity, complaint.updated_at = new.value, now
    complaint.response_level = complaint.resolve_level = 0  # warnings follow the new deadlines
    _recompute(complaint, policy, now)
    session.add(complaint)
    await session.commit()
    return True
