"""Start, help, cancel, the main menu and the language choice, for everyone in a private chat."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import IntakeCb, LangCb, MenuCb
from bot.i18n import LOCALES, _, __, catalogues
from handlers.declare import Handlers
from handlers.states import current_step
from models.tables import Resident
from services import lifecycle

handlers = Handlers("common")
handlers.message.filter(F.chat.type == "private")


def main_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("btn_new"), callback_data=MenuCb(action="new").pack())],
            [
                InlineKeyboardButton(text=_("btn_my"), callback_data=MenuCb(action="my").pack()),
                InlineKeyboardButton(text=_("btn_help"), callback_data=MenuCb(action="help").pack()),
            ],
        ]
    )


async def continue_hint(state: FSMContext) -> str:
    """A reminder appended to side answers while an intake is half-done."""
    step = current_step(await state.get_state())
    return "\n\n" + _("continue_hint", step=_(f"step_hints.{step}")) if step else ""


@handlers.message(CommandStart())
async def start(message: Message, state: FSMContext) -> None:
    """Greet the resident and show the main menu."""
    name = escape(message.from_user.first_name or "")
    await message.answer(_("greeting", name=name) + await continue_hint(state), reply_markup=main_menu())


@handlers.message(Command("help"))
async def help_command(message: Message, state: FSMContext) -> None:
    """Explain how to report and list the commands."""
    await message.answer(_("help") + await continue_hint(state), reply_markup=main_menu())


@handlers.callback_query(MenuCb.filter(F.action == "help"))
async def help_button(query: CallbackQuery, state: FSMContext) -> None:
    """Help from the menu button."""
    await query.answer()
    await query.message.answer(_("help") + await continue_hint(state))


@handlers.message(Command("lang"))
async def lang_command(message: Message) -> None:
    """Offer the languages; the choice is remembered for this person."""
    i18n = catalogues()
    buttons = []
    for locale in LOCALES:
        with i18n.use_locale(locale):
            buttons.append(InlineKeyboardButton(text=_("lang.name"), callback_data=LangCb(locale=locale).pack()))
    buttons.append(InlineKeyboardButton(text=_("lang.auto"), callback_data=LangCb(locale="auto").pack()))
    await message.answer(_("lang.choose"), reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons[:3], buttons[3:]]))


@handlers.callback_query(LangCb.filter())
async def lang_chosen(query: CallbackQuery, callback_data: LangCb, session: AsyncSession, resident: Resident) -> None:
    """Remember the language (or go back to Telegram's) and answer in it."""
    if callback_data.locale not in (*LOCALES, "auto"):
        await query.answer(_("stale_button"), show_alert=True)
        return
    await lifecycle.set_locale(session, resident, None if callback_data.locale == "auto" else callback_data.locale)
    from bot.render import person_locale

    with catalogues().use_locale(person_locale(resident)):
        await query.answer()
        await query.message.edit_text(_("lang.set", language=_("lang.name")))


@handlers.message(Command("cancel"))
@handlers.message(F.text == __("btn_cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    """Drop the intake in progress; nothing of it is saved."""
    if await state.get_state() is None:
        await message.answer(_("nothing_to_cancel"), reply_markup=ReplyKeyboardRemove())
        return
    await drop_intake(message, state)
    await message.answer(_("cancelled"), reply_markup=ReplyKeyboardRemove())


@handlers.callback_query(IntakeCb.filter(F.action == "cancel"))
async def cancel_button(query: CallbackQuery, callback_data: IntakeCb, state: FSMContext) -> None:
    """Cancel from the summary's button, if it belongs to the current draft."""
    data = await state.get_data()
    if await state.get_state() is None or data.get("draft") != callback_data.draft:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_intake(query.message, state)
    await query.message.answer(_("cancelled"), reply_markup=ReplyKeyboardRemove())


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


__all__ = ["handlers", "main_menu", "continue_hint", "drop_intake", "retire_buttons"]
