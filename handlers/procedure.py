"""Staff in chat: the cause (and corrective action) asked when resolving a Ⅰ/Ⅱ ticket, handling
plans (submit; the supervisor approves or returns them) and corrective actions (/actions, done).

Every step is a button or one typed text, so it works from a phone; each ends in one use case of
``services.procedure`` (or ``services.handling.resolve``).
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import StaffCb
from bot.i18n import _
from bot.render_procedure import action_button, action_line, cause_label
from bot.settings import Settings
from bot.texts import error_text, local_time
from handlers.declare import CallbackOf, CommandOrState, Handlers
from handlers.staff import IsStaff, load_visible, ticket_from_command
from models.tables import Complaint, CorrectiveAction, Staff
from models.types import Clock
from services import handling, procedure
from services.errors import DeskError
from services.satisfaction import CallbackPolicy

handlers = Handlers("procedure")
handlers.message.filter(F.chat.type == "private")

DUE_DAYS = ("3", "7", "14", "30")  # corrective action due in … days (buttons)


class ProcedureFlow(StatesGroup):
    """Typing the cause, the corrective action, a plan, a return reason or what was done."""

    cause_text = State()
    action_text = State()
    plan_text = State()
    plan_reason = State()
    action_note = State()


# Every handler here needs a command, a ProcedureFlow state or a StaffCb button.
handlers.message.filter(CommandOrState(ProcedureFlow))
handlers.callback_query.filter(CallbackOf(StaffCb))


def _button(text: str, action: str, ticket: int, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=StaffCb(action=action, ticket=ticket, arg=arg).pack())


# --- resolving a Ⅰ/Ⅱ ticket: the cause, then (ours) the corrective action ----------------------


async def ask_cause(message: Message, state: FSMContext, ticket_id: int, number: str, result: str,
                    on_spot: bool) -> None:
    """The resolve was refused for want of a cause: keep the result and ask the cause category."""
    await state.set_state(None)
    await state.update_data(cause_ticket=ticket_id, cause_result=result, cause_on_spot=on_spot)
    rows = [[_button(_(f"proc.cause.{code}"), "cau", ticket_id, code)] for code in procedure.CAUSES]
    await message.answer(_("proc.cause_ask", number=number), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def resolve_with_cause(message: Message, session: AsyncSession, state: FSMContext, staff: Staff,
                             cause: procedure.Cause, policy: CallbackPolicy, clock: Clock, settings: Settings) -> None:
    data = await state.get_data()
    try:
        outcome = await handling.resolve(session, data.get("cause_ticket", 0), staff, data.get("cause_result", ""),
                                         policy=policy, now=clock(), on_spot=bool(data.get("cause_on_spot")),
                                         cause=cause)
    except DeskError as error:
        await state.clear()
        await message.answer(error_text(error))
        return
    await state.clear()
    lines = [_("staff.resolved_staff", number=outcome.complaint.number),
             _("proc.cause_recorded", cause=cause_label(cause.category), text=escape(cause.text))]
    if cause.action:
        owner = await session.get(Staff, cause.owner_id) if cause.owner_id else staff
        lines.append(_("proc.action_recorded", action=escape(cause.action), owner=escape(owner.name),
                       due=local_time(cause.due_at, settings.tz)))
    await message.answer("\n".join(lines))


@handlers.callback_query(StaffCb.filter(F.action == "cau"), IsStaff())
async def cause_chosen(query: CallbackQuery, callback_data: StaffCb, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get("cause_ticket") != callback_data.ticket or callback_data.arg not in procedure.CAUSES:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await state.update_data(cause_category=callback_data.arg)
    await state.set_state(ProcedureFlow.cause_text)
    await query.message.edit_text(_("proc.cause_text_ask", cause=cause_label(callback_data.arg)))
    await query.answer()


@handlers.message(ProcedureFlow.cause_text, F.text, ~F.text.startswith("/"), IsStaff())
async def cause_text(message: Message, session: AsyncSession, state: FSMContext, staff: Staff,
                     callback_policy: CallbackPolicy, clock: Clock, settings: Settings) -> None:
    data = await state.get_data()
    category = data.get("cause_category", "")
    await state.update_data(cause_text=message.text)
    if not procedure.is_ours(category):
        await resolve_with_cause(message, session, state, staff, procedure.Cause(category, message.text),
                                 callback_policy, clock, settings)
        return
    await state.set_state(ProcedureFlow.action_text)
    await message.answer(_("proc.action_ask"))


@handlers.message(ProcedureFlow.action_text, F.text, ~F.text.startswith("/"), IsStaff())
async def action_text(message: Message, session: AsyncSession, state: FSMContext, staff: Staff) -> None:
    """The corrective action: now who carries it out (the person resolving first)."""
    data = await state.get_data()
    complaint = await load_visible(session, data.get("cause_ticket", 0), staff)
    if complaint is None:
        await state.clear()
        await message.answer(_("stale_button"))
        return
    await state.update_data(cause_action=message.text)
    await state.set_state(None)
    people = [staff] + [p for p in await procedure.team_members(session, complaint) if p.id != staff.id]
    buttons = [_button(_("proc.owner_me") if p.id == staff.id else p.name, "cao", complaint.id, str(p.id))
               for p in people[:12]]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    await message.answer(_("proc.owner_ask"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@handlers.callback_query(StaffCb.filter(F.action == "cao"), IsStaff())
async def owner_chosen(query: CallbackQuery, callback_data: StaffCb, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get("cause_ticket") != callback_data.ticket or not data.get("cause_action") or not callback_data.arg.isdigit():
        await query.answer(_("stale_button"), show_alert=True)
        return
    await state.update_data(cause_owner=int(callback_data.arg))
    rows = [[_button(_("proc.due_days", days=int(days)), "cdu", callback_data.ticket, days) for days in DUE_DAYS]]
    await query.message.edit_text(_("proc.due_ask"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
    await query.answer()


@handlers.callback_query(StaffCb.filter(F.action == "cdu"), IsStaff())
async def due_chosen(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, state: FSMContext,
                     staff: Staff, callback_policy: CallbackPolicy, clock: Clock, settings: Settings) -> None:
    """The due date: the ticket is resolved with its cause and corrective action."""
    data = await state.get_data()
    if (data.get("cause_ticket") != callback_data.ticket or callback_data.arg not in DUE_DAYS
            or not data.get("cause_owner")):
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    cause = procedure.Cause(data.get("cause_category", ""), data.get("cause_text", ""), data.get("cause_action"),
                            data.get("cause_owner"), clock() + timedelta(days=int(callback_data.arg)))
    await resolve_with_cause(query.message, session, state, staff, cause, callback_policy, clock, settings)


# --- handling plans ---------------------------------------------------------------------------


async def submit(message: Message, session: AsyncSession, staff: Staff, complaint_id: int, text: str,
                 clock: Clock, settings: Settings) -> bool:
    try:
        result = await procedure.submit_plan(session, complaint_id, staff, text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return not error.code.endswith(("_empty", "_too_long"))
    await message.answer(_("proc.plan_sent", number=result.complaint.number))
    return True


@handlers.message(Command("plan"), IsStaff())
async def plan_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                       state: FSMContext, clock: Clock, settings: Settings) -> None:
    """/plan TS… [the plan] — without the text the bot asks for it."""
    found = await ticket_from_command(message, command, session, staff, _("proc.plan_usage"))
    if found is None:
        return
    complaint, text = found
    if text:
        await submit(message, session, staff, complaint.id, text, clock, settings)
        return
    if not procedure.may_submit_plan(complaint, staff):
        await message.answer(error_text(DeskError(_plan_refusal(complaint, staff), number=complaint.number)))
        return
    await state.set_state(ProcedureFlow.plan_text)
    await state.update_data(plan_ticket=complaint.id)
    await message.answer(_("proc.plan_ask", number=complaint.number, deadline=local_time(complaint.plan_by, settings.tz)))


def _plan_refusal(complaint: Complaint, staff: Staff) -> str:
    if complaint.assignee_id != staff.id:
        return "not_holder"
    if not procedure.needs_plan(complaint):
        return "plan_not_needed"
    if complaint.plan_status == "submitted":
        return "plan_pending"
    if complaint.plan_status == "approved":
        return "plan_approved_already"
    return "plan_not_open"


@handlers.callback_query(StaffCb.filter(F.action == "pln"), IsStaff())
async def plan_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      state: FSMContext, settings: Settings) -> None:
    """The ticket card's 提交方案 button."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    if not procedure.may_submit_plan(complaint, staff):
        await query.answer(error_text(DeskError(_plan_refusal(complaint, staff), number=complaint.number)),
                           show_alert=True)
        return
    await query.answer()
    await state.set_state(ProcedureFlow.plan_text)
    await state.update_data(plan_ticket=complaint.id)
    await query.message.answer(_("proc.plan_ask", number=complaint.number,
                                 deadline=local_time(complaint.plan_by, settings.tz)))


@handlers.message(ProcedureFlow.plan_text, F.text, ~F.text.startswith("/"), IsStaff())
async def plan_text(message: Message, session: AsyncSession, staff: Staff, state: FSMContext, clock: Clock,
                    settings: Settings) -> None:
    if await submit(message, session, staff, (await state.get_data()).get("plan_ticket", 0), message.text, clock,
                    settings):
        await state.clear()


@handlers.callback_query(StaffCb.filter(F.action == "pla"), IsStaff())
async def plan_approve(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                       clock: Clock) -> None:
    """The supervisor approves the plan."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        result = await procedure.decide_plan(session, complaint.id, staff, approve=True, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(_("proc.plan_approved_staff", number=result.complaint.number))


@handlers.callback_query(StaffCb.filter(F.action == "plr"), IsStaff())
async def plan_return(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      state: FSMContext) -> None:
    """The supervisor returns the plan: ask the reason."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    if not procedure.can_supervise(complaint, staff) or complaint.plan_status != "submitted":
        code = "may_not_plan" if not procedure.can_supervise(complaint, staff) else "no_plan_pending"
        await query.answer(error_text(DeskError(code, number=complaint.number)), show_alert=True)
        return
    await query.answer()
    await state.set_state(ProcedureFlow.plan_reason)
    await state.update_data(plan_ticket=complaint.id)
    await query.message.answer(_("proc.plan_return_ask", number=complaint.number))


@handlers.message(ProcedureFlow.plan_reason, F.text, ~F.text.startswith("/"), IsStaff())
async def plan_reason(message: Message, session: AsyncSession, staff: Staff, state: FSMContext, clock: Clock) -> None:
    try:
        result = await procedure.decide_plan(session, (await state.get_data()).get("plan_ticket", 0), staff,
                                             approve=False, reason=message.text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        if not error.code.endswith(("_empty", "_too_long")):
            await state.clear()
        return
    await state.clear()
    await message.answer(_("proc.plan_returned_staff", number=result.complaint.number))


# --- corrective actions -----------------------------------------------------------------------


@handlers.message(Command("actions"), IsStaff())
async def actions_command(message: Message, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """Open corrective actions (own; supervisors: their team's; managers: all), each with 已完成."""
    found = await procedure.open_actions_for(session, staff)
    if not found:
        await message.answer(_("proc.actions_empty"))
        return
    await message.answer(_("proc.actions_header", count=len(found)))
    for action in found[:20]:
        complaint = await session.get(Complaint, action.complaint_id)
        owner = await session.get(Staff, action.owner_id)
        await message.answer(action_line(action, complaint, owner, settings.tz), reply_markup=action_button(action))


@handlers.callback_query(StaffCb.filter(F.action == "cad"), IsStaff())
async def action_done_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                             state: FSMContext) -> None:
    """已完成 on a corrective action: ask what was done."""
    action = await session.get(CorrectiveAction, int(callback_data.arg)) if callback_data.arg.isdigit() else None
    complaint = await session.get(Complaint, action.complaint_id) if action else None
    if action is None or complaint is None or action.complaint_id != callback_data.ticket:
        await query.answer(_("stale_button"), show_alert=True)
        return
    if action.owner_id != staff.id and not procedure.can_supervise(complaint, staff):
        await query.answer(error_text(DeskError("may_not_action", number=complaint.number)), show_alert=True)
        return
    if action.status == "done":
        await query.answer(error_text(DeskError("action_done_already", number=complaint.number)), show_alert=True)
        return
    await query.answer()
    await state.set_state(ProcedureFlow.action_note)
    await state.update_data(action_id=action.id)
    await query.message.answer(_("proc.action_done_ask", number=complaint.number, action=escape(action.description)))


@handlers.message(ProcedureFlow.action_note, F.text, ~F.text.startswith("/"), IsStaff())
async def action_note(message: Message, session: AsyncSession, staff: Staff, state: FSMContext, clock: Clock) -> None:
    try:
        result = await procedure.complete_action(session, (await state.get_data()).get("action_id", 0), staff,
                                                 message.text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        if not error.code.endswith(("_empty", "_too_long")):
            await state.clear()
        return
    await state.clear()
    await message.answer(_("proc.action_done_staff", number=result.complaint.number))


@handlers.message(ProcedureFlow.cause_text, ~F.text.startswith("/"))
@handlers.message(ProcedureFlow.action_text, ~F.text.startswith("/"))
@handlers.message(ProcedureFlow.plan_text, ~F.text.startswith("/"))
@handlers.message(ProcedureFlow.plan_reason, ~F.text.startswith("/"))
@handlers.message(ProcedureFlow.action_note, ~F.text.startswith("/"))
async def text_only(message: Message) -> None:
    """Only text is taken at these steps."""
    await message.answer(_("proc.text_only"))


__all__ = ["handlers", "ask_cause"]
