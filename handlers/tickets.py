"""Residents looking at their own tickets: /my and /status."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts
from bot.settings import Settings
from aiogram.fsm.state import State, StatesGroup

from bot import texts_staff as st
from bot.notify import Notifier
from bot.callbacks import InfoCb, MenuCb, TicketCb
from handlers.common import continue_hint
from models.tables import Complaint, Resident
from services import handling, lifecycle
from services.domain import Kind, Severity, Status
from services.numbering import looks_like_ticket_number
from services.sla import SlaPolicy

router = Router(name="tickets")
router.message.filter(F.chat.type == "private")

MY_LIMIT = 10


class AddInfo(StatesGroup):
    """A resident typing more information for one of their open tickets."""

    text = State()


async def render_my(session: AsyncSession, resident: Resident) -> tuple[str, InlineKeyboardMarkup | None]:
    tickets = await lifecycle.list_for_resident(session, resident, limit=MY_LIMIT)
    if not tickets:
        return texts.MY_EMPTY, None
    total = await lifecycle.count_for_resident(session, resident)
    shown = f"，显示最近{len(tickets)}件" if total > len(tickets) else ""
    lines = [texts.MY_HEADER.format(total=total, shown=shown)]
    for index, ticket in enumerate(tickets, 1):
        lines.append(
            texts.MY_LINE.format(
                index=index, number=ticket.number, category=ticket.category,
                status=texts.status_label(ticket.status), snippet=texts.snippet(ticket.description),
            )
        )
    lines.append(texts.MY_FOOTER)
    buttons = [
        InlineKeyboardButton(text=t.number, callback_data=TicketCb(number=t.number).pack())
        for t in tickets
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def render_card(session: AsyncSession, ticket: Complaint, settings: Settings) -> str:
    events = await lifecycle.events_of(session, ticket)
    history = []
    for event in events:
        if event.action not in texts.RESIDENT_EVENTS:
            continue
        label, with_note = texts.RESIDENT_EVENTS[event.action]
        label = label or (Status(event.to_status).label if event.to_status else event.action)
        line = f"· {texts.local_time(event.at, settings.tz)} {label}"
        if with_note and event.note:
            line += f"：{escape(texts.shorten(event.note, 200))}"
        history.append(line)
    contact = (
        "联系方式：" + texts.contact_line(
            anonymous=ticket.anonymous, name=ticket.contact_name, phone=ticket.contact_phone
        ) + "\n"
    )
    return texts.STATUS_CARD.format(
        number=ticket.number,
        status=texts.status_label(ticket.status),
        category=ticket.category,
        kind=Kind(ticket.kind).value,
        severity=Severity(ticket.severity).label,
        created=texts.local_time(ticket.created_at, settings.tz),
        location=escape(ticket.location),
        description=escape(ticket.description),
        contact=contact,
        history="\n".join(history),
    )


@router.message(Command("my"))
@router.message(F.text == texts.BTN_MY)
async def my_tickets(message: Message, session: AsyncSession, resident: Resident, state: FSMContext) -> None:
    """List the resident's latest tickets with their status."""
    text, markup = await render_my(session, resident)
    await message.answer(text + await continue_hint(state), reply_markup=markup)


@router.callback_query(MenuCb.filter(F.action == "my"))
async def my_tickets_button(query: CallbackQuery, session: AsyncSession, resident: Resident, state: FSMContext) -> None:
    """/my from the menu button."""
    await query.answer()
    text, markup = await render_my(session, resident)
    await query.message.answer(text + await continue_hint(state), reply_markup=markup)


@router.message(Command("status"))
async def status(
    message: Message, command: CommandObject, session: AsyncSession, resident: Resident,
    settings: Settings, state: FSMContext,
) -> None:
    """Show one ticket, only if it is the resident's own."""
    argument = (command.args or "").strip()
    if not argument:
        text, markup = await render_my(session, resident)
        usage = texts.STATUS_USAGE
        await message.answer(usage if markup is None else usage + "\n\n" + text, reply_markup=markup)
        return
    number = argument.split()[0].upper()
    if not looks_like_ticket_number(number):
        await message.answer(texts.STATUS_BAD_FORMAT.format(text=escape(argument[:40])))
        return
    ticket = await lifecycle.get_for_resident(session, resident, number)
    if ticket is None:
        await message.answer(texts.STATUS_NOT_FOUND.format(number=escape(number)))
        return
    await message.answer(await render_card(session, ticket, settings) + await continue_hint(state),
                         reply_markup=info_button(ticket))


@router.callback_query(TicketCb.filter())
async def status_button(
    query: CallbackQuery, callback_data: TicketCb, session: AsyncSession, resident: Resident,
    settings: Settings,
) -> None:
    """Ticket details from a /my button; the number in the button is not trusted."""
    ticket = await lifecycle.get_for_resident(session, resident, callback_data.number)
    if ticket is None:
        await query.answer(texts.STATUS_NOT_FOUND.format(number=escape(callback_data.number[:20])), show_alert=True)
        return
    await query.answer()
    await query.message.answer(await render_card(session, ticket, settings), reply_markup=info_button(ticket))


def info_button(ticket: Complaint) -> InlineKeyboardMarkup | None:
    """Open tickets can take more information from the resident."""
    if Status(ticket.status) not in lifecycle.OPEN_STATUSES:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=st.BTN_ADD_INFO, callback_data=InfoCb(ticket=ticket.id).pack())]])


async def add_info(message: Message, session: AsyncSession, resident: Resident, ticket: Complaint,
                   text: str, notifier: Notifier, sla: SlaPolicy) -> bool:
    try:
        note = await handling.resident_info(session, ticket, resident, text)
    except handling.HandlingError as error:
        await message.answer(escape(str(error)))
        return False
    await handling.resume(session, ticket, sla, actor="resident", actor_id=resident.telegram_id)
    delivered = await notifier.assignee_info(ticket, note)
    await message.answer(st.RESIDENT_INFO_SAVED if delivered else st.RESIDENT_INFO_QUEUED)
    return True


@router.message(Command("add"))
async def add_command(message: Message, command: CommandObject, session: AsyncSession, resident: Resident,
                      notifier: Notifier, sla: SlaPolicy) -> None:
    """/add TS… text: more information for an open ticket of one's own."""
    parts = (command.args or "").strip().split(maxsplit=1)
    if len(parts) < 2:
        await message.answer(st.RESIDENT_INFO_USAGE)
        return
    ticket = await lifecycle.get_for_resident(session, resident, parts[0])
    if ticket is None:
        await message.answer(texts.STATUS_NOT_FOUND.format(number=escape(parts[0][:40])))
        return
    await add_info(message, session, resident, ticket, parts[1], notifier, sla)


@router.callback_query(InfoCb.filter())
async def add_info_button(query: CallbackQuery, callback_data: InfoCb, session: AsyncSession, resident: Resident,
                          state: FSMContext) -> None:
    """Ask for the additional text (the ticket id in the button is not trusted)."""
    ticket = await session.get(Complaint, callback_data.ticket)
    if ticket is None or ticket.resident_id != resident.id or Status(ticket.status) not in lifecycle.OPEN_STATUSES:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    await query.answer()
    await state.set_state(AddInfo.text)
    await state.update_data(info_ticket=ticket.id)
    await query.message.answer(st.RESIDENT_INFO_ASK)


@router.message(AddInfo.text, F.text, ~F.text.startswith("/"))
async def add_info_text(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                        notifier: Notifier, sla: SlaPolicy) -> None:
    """The text typed after pressing "add information"."""
    ticket = await session.get(Complaint, (await state.get_data()).get("info_ticket", 0))
    if ticket is None or ticket.resident_id != resident.id:
        await state.clear()
        await message.answer(texts.STALE_BUTTON)
        return
    if await add_info(message, session, resident, ticket, message.text, notifier, sla):
        await state.clear()


@router.message(AddInfo.text, ~F.text.startswith("/"))
async def add_info_not_text(message: Message) -> None:
    """Only text can be added here."""
    await message.answer(st.RESIDENT_INFO_ASK)
