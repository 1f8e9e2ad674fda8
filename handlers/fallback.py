"""Last router: unknown commands, unexpected content, stale buttons, group chats."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from handlers.common import continue_hint
from handlers.declare import Handlers

handlers = Handlers("fallback")


@handlers.message(F.chat.type != "private")
async def not_private(message: Message) -> None:
    """The desk works in private chats only."""
    if message.text and message.text.startswith("/"):
        await message.reply(_("private_only"))


@handlers.message(F.text.startswith("/"))
async def unknown_command(message: Message, state: FSMContext) -> None:
    """A command the bot does not know; the conversation stays where it was."""
    command = message.text.split()[0][:40]
    await message.answer(_("unknown_command", command=escape(command)) + await continue_hint(state))


@handlers.message()
async def anything_else(message: Message, state: FSMContext) -> None:
    """Stickers, voice and the like while idle."""
    await message.answer(_("idle_non_text") + await continue_hint(state))


@handlers.callback_query()
async def unknown_button(query: CallbackQuery) -> None:
    """Forged, stale or foreign button data: answer, change nothing."""
    await query.answer(_("stale_button"), show_alert=True)
