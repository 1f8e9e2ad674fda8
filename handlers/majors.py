"""Managers in chat: /reply (the first reply on a major matter), /warn (投诉预警), and the monthly
report draft's buttons (approve and send / write the analysis summary)."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import ReviewCb
from bot.i18n import _
from bot.texts import error_text
from handlers.declare import CallbackOf, CommandOrState, Handlers
from handlers.staff import IsStaff, edit_buttons, load_visible
from models.tables import Staff
from models.types import Clock
from services import majors, review
from services.errors import DeskError

handlers = Handlers("majors")
handlers.message.filter(F.chat.type == "private")

MANAGERS = ("manager", "admin")


class ReviewFlow(StatesGroup):
    summary = State()  # the analysis summary of a month's report


# Every handler here needs a command, a ReviewFlow state or a ReviewCb button.
handlers.message.filter(CommandOrState(ReviewFlow))
handlers.callback_query.filter(CallbackOf(ReviewCb))


@handlers.message(Command("reply"), IsStaff(*MANAGERS))
async def reply_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                        clock: Clock) -> None:
    """/reply TS… text — the manager's reply to every resident of a major matter."""
    parts = (command.args or "").strip().split(maxsplit=1)
    if len(parts) < 2:
        await message.answer(_("majors.reply_usage"))
        return
    complaint = await load_visible(session, parts[0], staff)
    if complaint is None:
        await message.answer(_("staff.ticket_not_found", number=escape(parts[0][:40])))
        return
    try:
        outcome = await majors.reply(session, complaint.id, staff, parts[1], now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return
    await message.answer(_("majors.reply_sent", n=len(outcome.replied),
                           numbers=", ".join(c.number for c in outcome.replied)))


@handlers.message(Command("warn"), IsStaff(*MANAGERS))
async def warn_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                       clock: Clock) -> None:
    """/warn matter | what to tell residents | who was told [| TS… TS…] — an early warning."""
    parts = [p.strip() for p in (command.args or "").split("|")]
    if len(parts) < 3:
        await message.answer(_("majors.warn_usage"))
        return
    numbers = parts[3].replace(",", " ").split() if len(parts) > 3 else []
    try:
        await majors.write_warning(session, staff, matter=parts[0], advice=parts[1], notified=parts[2],
                                   numbers=numbers, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return
    await message.answer(_("majors.warning_saved"))


@handlers.callback_query(ReviewCb.filter(F.action == "ap"), IsStaff(*MANAGERS))
async def approve_button(query: CallbackQuery, callback_data: ReviewCb, session: AsyncSession, staff: Staff,
                         clock: Clock) -> None:
    try:
        notices = await review.approve(session, callback_data.month, staff, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer()
    await edit_buttons(query, None)
    await query.message.answer(_("majors.approved", month=callback_data.month, n=len(notices)))


@handlers.callback_query(ReviewCb.filter(F.action == "sm"), IsStaff(*MANAGERS))
async def summary_button(query: CallbackQuery, callback_data: ReviewCb, session: AsyncSession, staff: Staff,
                         state: FSMContext) -> None:
    run = await review.run_of(session, callback_data.month)
    if run is None or run.status != review.DRAFT:
        await query.answer(error_text(DeskError("report_no_draft", month=callback_data.month)), show_alert=True)
        return
    await query.answer()
    await state.set_state(ReviewFlow.summary)
    await state.update_data(review_month=callback_data.month)
    await query.message.answer(_("majors.summary_ask", month=callback_data.month))


@handlers.message(ReviewFlow.summary, F.text, ~F.text.startswith("/"), IsStaff(*MANAGERS))
async def summary_text(message: Message, state: FSMContext, session: AsyncSession, staff: Staff,
                       clock: Clock) -> None:
    month = (await state.get_data()).get("review_month", "")
    try:
        await review.set_summary(session, month, staff, message.text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        if error.code != "note_too_long":
            await state.clear()
        return
    await state.clear()
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("majors.btn_approve"), callback_data=ReviewCb(action="ap", month=month).pack())]])
    await message.answer(_("majors.summary_saved", month=month), reply_markup=markup)
