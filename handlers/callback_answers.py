"""Residents answering the satisfaction callback: rating buttons and the optional comment."""

from __future__ import annotations

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import CommentCb, RatingCb
from bot.i18n import _
from bot.texts import rating_label
from handlers.declare import Handlers
from models.tables import Resident
from models.types import Clock
from services import satisfaction
from services.sla import SlaPolicy

handlers = Handlers("callback_answers")


class CallbackComment(StatesGroup):
    """After a rating: the next text is the resident's comment."""

    text = State()


async def drop_buttons(query: CallbackQuery, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the prompt's buttons (or take them off); an already-edited prompt is fine."""
    from aiogram.exceptions import TelegramBadRequest

    try:
        await query.message.edit_reply_markup(reply_markup=markup)
    except TelegramBadRequest:
        pass


@handlers.callback_query(RatingCb.filter())
async def rating(query: CallbackQuery, callback_data: RatingCb, session: AsyncSession, resident: Resident,
                 state: FSMContext, clock: Clock, sla: SlaPolicy) -> None:
    """A rating button: close, flag for review, or reopen (the deadlines start again); then invite a comment."""
    answer = await satisfaction.answer(session, callback_data.attempt, resident, callback_data.rating, now=clock(),
                                       sla=sla)
    if answer.outcome == "stale":
        await query.answer(_("stale_button"), show_alert=True)
        return
    if answer.outcome == "late":
        await query.answer()
        await drop_buttons(query)
        await query.message.answer(_("callback_late"))
        return
    await query.answer(_("thanks_short"))
    await drop_buttons(query, InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("callback_answered", label=rating_label(answer.rating)), callback_data=CommentCb(round=0).pack())]]))
    await query.message.answer(_(f"rating_thanks.{answer.outcome}", number=answer.complaint.number))
    if await state.get_state() is not None:
        return  # in the middle of something else (e.g. a new complaint): do not take that over
    await state.set_state(CallbackComment.text)
    await state.update_data(comment_round=answer.round.id)
    await query.message.answer(_("comment_invite"), reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("btn_skip_comment"), callback_data=CommentCb(round=answer.round.id).pack())]]))


@handlers.callback_query(CommentCb.filter())
async def skip_comment(query: CallbackQuery, callback_data: CommentCb, state: FSMContext) -> None:
    """Skip the comment (or the inert "already rated" label)."""
    await query.answer()
    data = await state.get_data()
    if callback_data.round and data.get("comment_round") == callback_data.round:
        await state.clear()
        await drop_buttons(query)
        await query.message.answer(_("comment_skipped"))


@handlers.message(CallbackComment.text, F.text, ~F.text.startswith("/"))
async def comment(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                  clock: Clock) -> None:
    """The comment after a rating (the reviewer reads it when the rating was not "satisfied")."""
    round_id = (await state.get_data()).get("comment_round", 0)
    await state.clear()
    if await satisfaction.add_comment(session, round_id, resident, message.text, now=clock()) is None:
        await message.answer(_("stale_button"))
        return
    await message.answer(_("comment_thanks"))


@handlers.message(CallbackComment.text, ~F.text.startswith("/"))
async def comment_not_text(message: Message, state: FSMContext) -> None:
    """Anything but text ends the comment step politely."""
    await state.clear()
    await message.answer(_("comment_skipped"))
