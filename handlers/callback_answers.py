"""Residents answering the satisfaction callback: rating buttons and the optional comment."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts
from bot.callbacks import CommentCb, RatingCb
from bot.notify import Notifier
from models.tables import Complaint, Resident
from services import callbacks

router = Router(name="callback_answers")


class CallbackComment(StatesGroup):
    """After a rating: the next text is the resident's comment."""

    text = State()


@router.callback_query(RatingCb.filter())
async def rating(query: CallbackQuery, callback_data: RatingCb, session: AsyncSession, resident: Resident,
                 notifier: Notifier, state: FSMContext) -> None:
    """A rating button: close, flag for review, or reopen; then invite a comment."""
    answer = await callbacks.answer(session, callback_data.attempt, resident, callback_data.rating)
    if answer.outcome == "stale":
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    if answer.outcome == "late":
        await query.answer()
        await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, None)
        await query.message.answer(texts.CALLBACK_LATE)
        return
    label = texts.BTN_NOT_SOLVED if answer.rating == callbacks.NOT_SOLVED else (
        f"{answer.rating} {callbacks.RATING_LABELS[answer.rating]}")
    await query.answer("谢谢！")
    await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.CALLBACK_ANSWERED.format(label=label),
                                               callback_data=CommentCb(round=0).pack())]]))
    await query.message.answer(texts.RATING_THANKS[answer.outcome].format(number=answer.complaint.number))
    await notifier.rating_outcome(answer)
    if await state.get_state() is not None:
        return  # in the middle of something else (e.g. a new complaint): do not take that over
    await state.set_state(CallbackComment.text)
    await state.update_data(comment_round=answer.round.id)
    await query.message.answer(texts.COMMENT_INVITE, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=texts.BTN_SKIP_COMMENT, callback_data=CommentCb(round=answer.round.id).pack())]]))


@router.callback_query(CommentCb.filter())
async def skip_comment(query: CallbackQuery, callback_data: CommentCb, state: FSMContext, notifier: Notifier) -> None:
    """Skip the comment (or the inert "already rated" label)."""
    await query.answer()
    data = await state.get_data()
    if callback_data.round and data.get("comment_round") == callback_data.round:
        await state.clear()
        await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, None)
        await query.message.answer(texts.COMMENT_SKIPPED)


@router.message(CallbackComment.text, F.text, ~F.text.startswith("/"))
async def comment(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                  notifier: Notifier) -> None:
    """The comment after a rating."""
    round_id = (await state.get_data()).get("comment_round", 0)
    await state.clear()
    round_ = await callbacks.add_comment(session, round_id, resident, message.text)
    if round_ is None:
        await message.answer(texts.STALE_BUTTON)
        return
    await message.answer(texts.COMMENT_THANKS)
    if round_.rating is not None and round_.rating <= 3:
        await notifier.callback_comment(await session.get(Complaint, round_.complaint_id), round_.comment)


@router.message(CallbackComment.text, ~F.text.startswith("/"))
async def comment_not_text(message: Message, state: FSMContext) -> None:
    """Anything but text ends the comment step politely."""
    await state.clear()
    await message.answer(texts.COMMENT_SKIPPED)
