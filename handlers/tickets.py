"""Residents looking at their own tickets (/my, /status) and adding information to an open one (/add)."""

from __future__ import annotations

from html import escape
from types import SimpleNamespace

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import InfoCb, MenuCb, TicketCb
from bot.i18n import _, __
from bot.settings import Settings
from bot.texts import (category_label, contact_line, error_text, kind_label, local_time, rating_label,
                       severity_label, shorten, snippet, status_label, team_label)
from handlers.common import continue_hint
from handlers.declare import Handlers
from models.tables import Complaint, ComplaintEvent, Resident
from models.types import Clock
from services import handling, lifecycle
from services.domain import Status
from services.errors import DeskError
from services.numbering import looks_like_ticket_number
from services.sla import SlaPolicy

handlers = Handlers("tickets")
handlers.message.filter(F.chat.type == "private")

MY_LIMIT = 10


class AddInfo(StatesGroup):
    """A resident typing more information for one of their open tickets."""

    text = State()


async def render_my(session: AsyncSession, resident: Resident) -> tuple[str, InlineKeyboardMarkup | None]:
    tickets = await lifecycle.list_for_resident(session, resident, limit=MY_LIMIT)
    if not tickets:
        return _("my_empty"), None
    total = await lifecycle.count_for_resident(session, resident)
    shown = _("my_shown", count=len(tickets)) if total > len(tickets) else ""
    lines = [_("my_header", total=total, shown=shown)]
    for index, ticket in enumerate(tickets, 1):
        lines.append(_("my_line", index=index, number=ticket.number, category=category_label(ticket.category),
                       status=status_label(ticket.status), snippet=snippet(ticket.description)))
    lines.append(_("my_footer"))
    buttons = [
        InlineKeyboardButton(text=t.number, callback_data=TicketCb(number=t.number).pack())
        for t in tickets
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


# What a resident sees of the log (and whether a typed note is shown); other events stay internal.
RESIDENT_EVENTS = {"created": False, "assign": False, "queue": False, "accept": False, "note": True, "info": True,
                   "merged": False, "resolve": True, "status": False, "callback_answered": False,
                   "close": True, "invalid": True, "complex": False}


def history_line(event: ComplaintEvent, settings: Settings) -> str:
    """One event of the ticket's history, in the resident's language."""
    data = event.data or {}
    if event.action == "assign" and data.get("team"):
        team = SimpleNamespace(code=data.get("team_code"), name=data["team"])
        label = _("history.assign_to", team=team_label(team), assignee=escape(data.get("assignee") or ""))
    elif event.action == "status":
        label = status_label(event.to_status) if event.to_status else event.action
    elif event.action in ("close", "invalid") and data.get("reason"):
        prefix = "close_reason" if event.action == "close" else "invalid_reason"
        label = _(f"history.{event.action}", reason=_(f"{prefix}.{data['reason']}"))
    elif event.action == "callback_answered" and "rating" in data:
        label = _("history.callback_answered", rating=rating_label(data["rating"]))
    else:
        label = _(f"history.{event.action}")
    line = f"· {local_time(event.at, settings.tz)} {label}"
    if RESIDENT_EVENTS[event.action] and event.note:
        line += _("history.note_suffix", note=escape(shorten(event.note, 200)))
    return line


async def render_card(session: AsyncSession, ticket: Complaint, settings: Settings) -> str:
    events = await lifecycle.events_of(session, ticket)
    history = [history_line(event, settings) for event in events if event.action in RESIDENT_EVENTS]
    contact = contact_line(anonymous=ticket.anonymous, name=ticket.contact_name, phone=ticket.contact_phone)
    return _("status_card",
             number=ticket.number,
             status=status_label(ticket.status),
             category=category_label(ticket.category),
             kind=kind_label(ticket.kind),
             severity=severity_label(ticket.severity),
             created=local_time(ticket.created_at, settings.tz),
             location=escape(ticket.location),
             description=escape(ticket.description),
             contact=contact,
             history="\n".join(history))


@handlers.message(Command("my"))
@handlers.message(F.text == __("btn_my"))
async def my_tickets(message: Message, session: AsyncSession, resident: Resident, state: FSMContext) -> None:
    """List the resident's latest tickets with their status."""
    text, markup = await render_my(session, resident)
    await message.answer(text + await continue_hint(state), reply_markup=markup)


@handlers.callback_query(MenuCb.filter(F.action == "my"))
async def my_tickets_button(query: CallbackQuery, session: AsyncSession, resident: Resident, state: FSMContext) -> None:
    """/my from the menu button."""
    await query.answer()
    text, markup = await render_my(session, resident)
    await query.message.answer(text + await continue_hint(state), reply_markup=markup)


@handlers.message(Command("status"))
async def status(
    message: Message, command: CommandObject, session: AsyncSession, resident: Resident,
    settings: Settings, state: FSMContext,
) -> None:
    """Show one ticket, only if it is the resident's own."""
    argument = (command.args or "").strip()
    if not argument:
        text, markup = await render_my(session, resident)
        usage = _("status_usage")
        await message.answer(usage if markup is None else usage + "\n\n" + text, reply_markup=markup)
        return
    number = argument.split()[0].upper()
    if not looks_like_ticket_number(number):
        await message.answer(_("status_bad_format", text=escape(argument[:40])))
        return
    ticket = await lifecycle.get_for_resident(session, resident, number)
    if ticket is None:
        await message.answer(_("status_not_found", number=escape(number)))
        return
    await message.answer(await render_card(session, ticket, settings) + await continue_hint(state),
                         reply_markup=info_button(ticket))


@handlers.callback_query(TicketCb.filter())
async def status_button(
    query: CallbackQuery, callback_data: TicketCb, session: AsyncSession, resident: Resident,
    settings: Settings,
) -> None:
    """Ticket details from a /my button; the number in the button is not trusted."""
    ticket = await lifecycle.get_for_resident(session, resident, callback_data.number)
    if ticket is None:
        await query.answer(_("status_not_found", number=escape(callback_data.number[:20])), show_alert=True)
        return
    await query.answer()
    await query.message.answer(await render_card(session, ticket, settings), reply_markup=info_button(ticket))


def info_button(ticket: Complaint) -> InlineKeyboardMarkup | None:
    """Open tickets can take more information from the resident."""
    if Status(ticket.status) not in lifecycle.OPEN_STATUSES:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("staff.btn_add_info"), callback_data=InfoCb(ticket=ticket.id).pack())]])


async def add_info(message: Message, session: AsyncSession, resident: Resident, ticket: Complaint,
                   text: str, sla: SlaPolicy, clock: Clock) -> bool:
    try:
        outcome = await handling.resident_info(session, ticket.id, resident, text, policy=sla, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return False
    await message.answer(_("staff.resident_info_saved") if outcome.changed else _("staff.resident_info_queued"))
    return True


@handlers.message(Command("add"))
async def add_command(message: Message, command: CommandObject, session: AsyncSession, resident: Resident,
                      sla: SlaPolicy, clock: Clock) -> None:
    """/add TS… text: more information for an open ticket of one's own."""
    parts = (command.args or "").strip().split(maxsplit=1)
    if len(parts) < 2:
        await message.answer(_("staff.resident_info_usage"))
        return
    ticket = await lifecycle.get_for_resident(session, resident, parts[0])
    if ticket is None:
        await message.answer(_("status_not_found", number=escape(parts[0][:40])))
        return
    await add_info(message, session, resident, ticket, parts[1], sla, clock)


@handlers.callback_query(InfoCb.filter())
async def add_info_button(query: CallbackQuery, callback_data: InfoCb, session: AsyncSession, resident: Resident,
                          state: FSMContext) -> None:
    """Ask for the additional text (the ticket id in the button is not trusted)."""
    ticket = await session.get(Complaint, callback_data.ticket)
    if ticket is None or ticket.resident_id != resident.id or Status(ticket.status) not in lifecycle.OPEN_STATUSES:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    await state.set_state(AddInfo.text)
    await state.update_data(info_ticket=ticket.id)
    await query.message.answer(_("staff.resident_info_ask"))


@handlers.message(AddInfo.text, F.text, ~F.text.startswith("/"))
async def add_info_text(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                        sla: SlaPolicy, clock: Clock) -> None:
    """The text typed after pressing "add information"."""
    ticket = await session.get(Complaint, (await state.get_data()).get("info_ticket", 0))
    if ticket is None or ticket.resident_id != resident.id:
        await state.clear()
        await message.answer(_("stale_button"))
        return
    if await add_info(message, session, resident, ticket, message.text, sla, clock):
        await state.clear()


@handlers.message(AddInfo.text, ~F.text.startswith("/"))
async def add_info_not_text(message: Message) -> None:
    """Only text can be added here."""
    await message.answer(_("staff.resident_info_ask"))
