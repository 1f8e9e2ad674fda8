"""Start, help, cancel and the main menu for residents."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from html import escape

from bot import texts
from bot.callbacks import IntakeCb, MenuCb
from handlers.states import current_step

router = Router(name="common")
router.message.filter(F.chat.type == "private")


def main_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=texts.BTN_NEW, callback_data=MenuCb(action="new").pack())],
            [
                InlineKeyboardButton(text=texts.BTN_MY, callback_data=MenuCb(action="my").pack()),
                InlineKeyboardButton(text=texts.BTN_HELP, callback_data=MenuCb(action="help").pack()),
            ],
        ]
    )


async def continue_hint(state: FSMContext) -> str:
    """A reminder appended to side answers while an intake is half-done."""
    step = current_step(await state.get_state())
    return "\n\n" + texts.CONTINUE_HINT.format(step=texts.STEP_HINTS[step]) if step else ""


@router.message(CommandStart())
async def start(message: Message, state: FSMContext) -> None:
    """Greet the resident and show the main menu."""
    name = escape(message.from_user.first_name or "")
    await message.answer(texts.GREETING.format(name=name) + await continue_hint(state), reply_markup=main_menu())


@router.message(Command("help"))
async def help_command(message: Message, state: FSMContext) -> None:
    """Explain how to report and list the commands."""
    await message.answer(texts.HELP + await continue_hint(state), reply_markup=main_menu())


@router.callback_query(MenuCb.filter(F.action == "help"))
async def help_button(query: CallbackQuery, state: FSMContext) -> None:
    """Help from the menu button."""
    await query.answer()
    await query.message.answer(texts.HELP + await continue_hint(state))


@router.message(Command("cancel"))
@router.message(F.text == texts.BTN_CANCEL)
async def cancel(message: Message, state: FSMContext) -> None:
    """Drop the intake in progress; nothing of it is saved."""
    if await state.get_state() is None:
        await message.answer(texts.NOTHING_TO_CANCEL, reply_markup=ReplyKeyboardRemove())
        return
    await drop_intake(message, state)
    await message.answer(texts.CANCELLED, reply_markup=ReplyKeyboardRemove())


@router.callback_query(IntakeCb.filter(F.action == "cancel"))
async def cancel_button(query: CallbackQuery, callback_data: IntakeCb, state: FSMContext) -> None:
    """Cancel from the summary's button, if it belongs to the current draft."""
    data = await state.get_data()
    if await state.get_state() is None or data.get("draft") != callback_data.draft:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    await query.answer()
    await drop_intake(query.message, state)
    await query.message.answer(texts.CANCELLED, reply_markup=ReplyKeyboardRemove())


async def drop_intake(message: Message, state: FSMContext) -> None:
    """Clear the conversation and take the buttons off the draft's summary."""
    data = await state.get_data()
    await state.clear()
    if data.get("summary_message_id"):
        await retire_buttons(message, data["summary_message_id"])


async def retire_buttons(message: Message, message_id: int) -> None:
    """Take the inline buttons off an earlier message of this chat, if it still has any."""
    try:
        await message.bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message_id, reply_markup=None)
    except TelegramBadRequest:  # already without buttons, or gone
        pass


__all__ = ["router", "main_menu", "continue_hint", "drop_intake", "retire_buttons"]
