"""Last router: unknown commands, unexpected content, stale buttons, group chats."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot import texts
from handlers.common import continue_hint
from aiogram.fsm.context import FSMContext

router = Router(name="fallback")


@router.message(F.chat.type != "private")
async def not_private(message: Message) -> None:
    """The desk works in private chats only."""
    if message.text and message.text.startswith("/"):
        await message.reply(texts.PRIVATE_ONLY)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, state: FSMContext) -> None:
    """A command the bot does not know; the conversation stays where it was."""
    command = message.text.split()[0][:40]
    await message.answer(texts.UNKNOWN_COMMAND.format(command=escape(command)) + await continue_hint(state))


@router.message()
async def anything_else(message: Message, state: FSMContext) -> None:
    """Stickers, voice and the like while idle."""
    await message.answer(texts.IDLE_NON_TEXT + await continue_hint(state))


@router.callback_query()
async def unknown_button(query: CallbackQuery) -> None:
    """Forged, stale or foreign button data: answer, change nothing."""
    await query.answer(texts.STALE_BUTTON, show_alert=True)
