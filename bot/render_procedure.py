"""Presentation of cause analysis, corrective actions and handling plans (services.procedure):
the notices' messages and their buttons, in the recipient's language (catalogue ``procedure.po``)."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import StaffCb
from bot.i18n import _
from bot.texts import local_time, severity_label, snippet
from models.tables import Complaint, CorrectiveAction, HandlingPlan, Staff
from services.notices import NoticeKind


def cause_label(code: str | None) -> str:
    return _(f"proc.cause.{code}") if code else "—"


def plan_buttons(complaint: Complaint) -> InlineKeyboardMarkup:
    """The supervisor's approve / return buttons."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("proc.btn_approve"), callback_data=StaffCb(action="pla", ticket=complaint.id).pack()),
        InlineKeyboardButton(text=_("proc.btn_return"), callback_data=StaffCb(action="plr", ticket=complaint.id).pack()),
    ]])


def action_button(action: CorrectiveAction) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("proc.btn_action_done"),
        callback_data=StaffCb(action="cad", ticket=action.complaint_id, arg=str(action.id)).pack())]])


def action_line(action: CorrectiveAction, complaint: Complaint, owner: Staff | None, tz) -> str:
    return _("proc.action_line", number=complaint.number, action=escape(snippet(action.description, 60)),
             owner=escape(owner.name) if owner else "—", due=local_time(action.due_at, tz),
             status=_(f"proc.action_status.{action.status}"))


async def fill(session: AsyncSession, kind: NoticeKind, params: dict, c: Complaint, text, tz) -> None:
    """Append the messages of one plan or corrective-action notice (``text`` takes (message, buttons))."""
    if kind in (NoticeKind.PLAN_SUBMITTED, NoticeKind.PLAN_APPROVED, NoticeKind.PLAN_RETURNED):
        plan = await session.get(HandlingPlan, params.get("plan"))
        body = escape(plan.text) if plan else "—"
        by = escape(str(params.get("by", "")))
        if kind is NoticeKind.PLAN_SUBMITTED:
            waiting = plan is not None and plan.status == "submitted"
            text((_("proc.plan_submitted", number=c.number, severity=severity_label(c.severity), by=by, plan=body,
                    snippet=snippet(c.description, 40)), plan_buttons(c) if waiting else None))
        elif kind is NoticeKind.PLAN_APPROVED:
            text((_("proc.plan_approved", number=c.number, by=by), None))
        else:
            text((_("proc.plan_returned", number=c.number, by=by,
                    reason=escape(plan.return_reason or "") if plan else "—"), None))
    elif kind is NoticeKind.PLAN_OVERDUE:
        assignee = await session.get(Staff, c.assignee_id) if c.assignee_id else None
        key = "proc.plan_overdue_returned" if params.get("returned") else "proc.plan_overdue"
        text((_(key, number=c.number, severity=severity_label(c.severity), deadline=local_time(c.plan_by, tz),
                assignee=escape(assignee.name) if assignee else "—"), None))
    elif kind is NoticeKind.PLAN_OVERDUE_MANAGER:
        assignee = await session.get(Staff, c.assignee_id) if c.assignee_id else None
        text((_("proc.plan_overdue_manager", number=c.number, severity=severity_label(c.severity),
                deadline=local_time(c.plan_by, tz), assignee=escape(assignee.name) if assignee else "—"), None))
    else:
        action = await session.get(CorrectiveAction, params.get("action"))
        if action is None:
            return
        owner = await session.get(Staff, action.owner_id)
        key = {NoticeKind.ACTION_ASSIGNED: "proc.action_assigned", NoticeKind.ACTION_REMINDER: "proc.action_reminder",
               NoticeKind.ACTION_OVERDUE: "proc.action_overdue"}[kind]
        message = _(key, number=c.number, action=escape(action.description), due=local_time(action.due_at, tz),
                    owner=escape(owner.name) if owner else "—", cause=cause_label(c.cause_category),
                    by=escape(str(params.get("by", ""))))
        text((message, action_button(action) if action.status == "open" else None))
