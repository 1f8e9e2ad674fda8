"""Staff: onboarding by deep link, ping buttons, /mine, /ticket, /accept, /note, /resolve, /invite.

Handlers read the update, call one use case (services.handling) with the person and ``now``,
and answer the person acting; everyone else hears through the notices the use case stored.
"""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import StaffCb
from bot.i18n import _
from bot.render import CATEGORIES, phone_for, ticket_buttons, ticket_card
from bot.settings import Settings
from bot.texts import (category_label, error_text, local_time, rating_label, role_label, severity_label, snippet,
                       status_label, team_label)
from handlers.declare import CallbackOf, CommandOrState, Handlers
from models.tables import Complaint, Staff, Team
from models.types import Clock
from services import handling, satisfaction
from services import staff as staff_service
from services.domain import Severity, Status
from services.errors import DeskError
from services.satisfaction import MANUAL_CLOSE_REASONS, CallbackPolicy
from services.sla import SlaPolicy

handlers = Handlers("staff")
handlers.message.filter(F.chat.type == "private")

STAFF_COMMANDS = ("mine", "ticket", "accept", "note", "resolve", "plan", "actions", "web", "help")
REPORT_COMMANDS = ("stats", "report")
SUPERVISOR_COMMANDS = ("invalid", "callback")
MANAGER_COMMANDS = ("close", "reply", "warn")
ADMIN_COMMANDS = ("invite",)


class StaffFlow(StatesGroup):
    """A staff member typing the result note after pressing "resolve"."""

    resolve_note = State()
    review_note = State()
    reason_note = State()  # the note after choosing why a ticket is closed by hand or invalid


# Every handler here needs a command, a StaffFlow state or a StaffCb button: nothing else looks further.
handlers.message.filter(CommandOrState(StaffFlow))
handlers.callback_query.filter(CallbackOf(StaffCb))


class IsStaff(Filter):
    """Passes for bound, active staff (optionally of given roles) and hands ``staff`` to the handler."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, event: TelegramObject, session: AsyncSession) -> bool | dict:
        person = await staff_service.staff_by_telegram(session, event.from_user.id)
        if person is None or (self.roles and person.role not in self.roles):
            return False
        return {"staff": person}


def staff_commands(person: Staff) -> list[BotCommand]:
    names = (STAFF_COMMANDS + (REPORT_COMMANDS + SUPERVISOR_COMMANDS if person.role in ("supervisor", "manager", "admin")
                               else ())
             + (MANAGER_COMMANDS if person.role in ("manager", "admin") else ())
             + (ADMIN_COMMANDS if person.role == "admin" else ()))
    return [BotCommand(command=name, description=_(f"staff.commands.{name}")) for name in names]


async def team_of(session: AsyncSession, person: Staff) -> str:
    team = await session.get(Team, person.team_id) if person.team_id else None
    return team_label(team) if team else ""


async def edit_buttons(query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Show the buttons that fit the ticket now (an unchanged message is fine)."""
    try:
        await query.message.edit_reply_markup(reply_markup=markup)
    except TelegramBadRequest:
        pass


# --- onboarding -------------------------------------------------------------------------------


async def welcome(message: Message, session: AsyncSession, person: Staff) -> None:
    await message.bot.set_my_commands(staff_commands(person), scope=BotCommandScopeChat(chat_id=message.chat.id))
    await message.answer(_("staff.welcome", name=escape(person.name), team=await team_of(session, person),
                           role=role_label(person.role)))


@handlers.message(CommandStart(deep_link=True))
async def redeem(message: Message, command: CommandObject, session: AsyncSession, state: FSMContext,
                 clock: Clock) -> None:
    """Open an invite link: bind this Telegram account to the staff record."""
    try:
        person = await staff_service.redeem_invite(
            session, command.args or "", telegram_id=message.from_user.id, chat_id=message.chat.id, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return
    await state.clear()
    await welcome(message, session, person)


@handlers.message(CommandStart(), IsStaff())
async def staff_start(message: Message, session: AsyncSession, staff: Staff) -> None:
    """Staff pressing Start again get their own greeting and menu."""
    await welcome(message, session, staff)


@handlers.message(Command("invite"), IsStaff())
async def invite(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, settings: Settings,
                 clock: Clock) -> None:
    """Admins create a one-time invite link from chat."""
    if staff.role != "admin":
        await message.answer(_("staff.admin_only"))
        return
    parts = (command.args or "").split()
    teams = ", ".join(t.code for t in await staff_service.teams(session))
    if len(parts) < 2:
        await message.answer(_("staff.invite_usage", teams=teams))
        return
    name, rest = parts[0], parts[1:]
    if rest[0] in staff_service.ROLES:
        team_code, role = None, rest[0]
    else:
        team_code, role = rest[0], (rest[1] if len(rest) > 1 else "staff")
    try:
        person, code = await staff_service.create_invite(
            session, name=name, team_code=team_code, role=role, ttl=settings.invite_ttl, now=clock())
    except DeskError as error:
        await message.answer(error_text(error) + "\n\n" + _("staff.invite_usage", teams=teams))
        return
    me = await message.bot.me()
    await message.answer(_("staff.invite_created", name=escape(person.name),
                           team=await team_of(session, person), role=role_label(person.role),
                           days=settings.invite_ttl.days or 1, link=f"https://t.me/{me.username}?start={code}"))


@handlers.message(Command("web"), IsStaff())
async def web_login(message: Message, session: AsyncSession, staff: Staff, settings: Settings, clock: Clock) -> None:
    """A one-time login link for the web console (valid WEB_LOGIN_TTL, works once, stored hashed)."""
    from services import web_auth

    if not settings.web_port and not settings.web_base_url:
        await message.answer(_("staff.web_off"))
        return
    token = await web_auth.create_login_link(session, staff, now=clock(), ttl=settings.web_login_ttl)
    minutes = int(settings.web_login_ttl.total_seconds() // 60)
    await message.answer(_("staff.web_link", minutes=minutes, url=escape(f"{settings.web_url}/login/{token}")),
                         disable_web_page_preview=True)


@handlers.message(Command("help"), IsStaff())
async def staff_help(message: Message) -> None:
    """Staff get their own help."""
    # + plans and corrective actions, major complaints
    await message.answer(_("staff.staff_help") + "\n\n" + _("proc.help") + "\n\n" + _("majors.help"))


# --- lists and cards --------------------------------------------------------------------------


@handlers.message(Command("mine"), IsStaff())
async def mine(message: Message, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """Open tickets of this staff member, nearest deadline first."""
    tickets = await handling.open_tickets_of(session, staff)
    if not tickets:
        await message.answer(_("staff.mine_empty"))
        return
    tickets.sort(key=lambda t: (t.resolve_by or t.created_at, t.id))
    lines = [_("staff.mine_header", count=len(tickets))]
    for index, ticket in enumerate(tickets[:30], 1):
        lines.append(_("staff.mine_line", index=index, number=ticket.number, status=status_label(ticket.status),
                       severity=severity_label(ticket.severity), resolve_by=local_time(ticket.resolve_by, settings.tz),
                       snippet=snippet(ticket.description)))
    buttons = [InlineKeyboardButton(text=t.number, callback_data=StaffCb(action="view", ticket=t.id).pack())
               for t in tickets[:30]]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def load_visible(session: AsyncSession, number_or_id: str | int, staff: Staff) -> Complaint | None:
    """A ticket the staff member may see, by number or id; None otherwise (no leak of existence)."""
    if isinstance(number_or_id, int):
        complaint = await session.get(Complaint, number_or_id)
    else:
        complaint = await handling.ticket_by_number(session, number_or_id)
    return complaint if complaint is not None and handling.can_view(complaint, staff) else None


async def show_card(message: Message, session: AsyncSession, complaint: Complaint, staff: Staff, settings: Settings) -> None:
    full = complaint.assignee_id == staff.id and complaint.status == Status.ACCEPTED.value
    text = await ticket_card(session, complaint, settings, header=_("staff.card_header", number=complaint.number),
                             full_phone=full)
    await message.answer(text, reply_markup=with_supervision(ticket_buttons(complaint), complaint, staff))


@handlers.message(Command("ticket"), IsStaff())
async def ticket(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """One ticket with its action buttons."""
    found = await ticket_from_command(message, command, session, staff, _("staff.ticket_usage", command="ticket"))
    if found is not None:
        await show_card(message, session, found[0], staff, settings)


@handlers.callback_query(StaffCb.filter(F.action == "view"), IsStaff())
async def view_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """A ticket from /mine."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    await show_card(query.message, session, complaint, staff, settings)


# --- accept -----------------------------------------------------------------------------------


async def do_accept(session: AsyncSession, complaint: Complaint, staff: Staff, clock: Clock) -> str:
    outcome = await handling.accept(session, complaint.id, staff, now=clock())
    return _("staff.accepted_staff", number=outcome.complaint.number, contact=phone_for(outcome.complaint))


@handlers.message(Command("accept"), IsStaff())
async def accept_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                         clock: Clock) -> None:
    """/accept TS…"""
    found = await ticket_from_command(message, command, session, staff, _("staff.ticket_usage", command="accept"))
    if found is None:
        return
    try:
        reply = await do_accept(session, found[0], staff, clock)
    except DeskError as error:
        await message.answer(error_text(error))
        return
    await message.answer(reply, reply_markup=ticket_buttons(found[0]))


@handlers.callback_query(StaffCb.filter(F.action == "acc"), IsStaff())
async def accept_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                        clock: Clock) -> None:
    """The accept button of a ping."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        reply = await do_accept(session, complaint, staff, clock)
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("staff.accepted_short"))
    await edit_buttons(query, ticket_buttons(complaint))
    await query.message.answer(reply)


# --- notes and resolve ------------------------------------------------------------------------


async def ticket_from_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                              usage: str, *, needs_text: bool = False) -> tuple[Complaint, str] | None:
    """``/cmd TS… [text]``: the visible ticket and the text, or None after telling the person why."""
    parts = (command.args or "").strip().split(maxsplit=1)
    number, text = (parts[0] if parts else ""), (parts[1] if len(parts) > 1 else "")
    if not number or (needs_text and not text):
        await message.answer(usage)
        return None
    complaint = await load_visible(session, number, staff)
    if complaint is None:
        await message.answer(_("staff.ticket_not_found", number=escape(number[:40])))
        return None
    return complaint, text


@handlers.message(Command("note"), IsStaff())
async def note_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                       clock: Clock) -> None:
    """/note TS… progress text — forwarded to the resident."""
    found = await ticket_from_command(message, command, session, staff, _("staff.note_usage"), needs_text=True)
    if found is None:
        return
    complaint, text = found
    try:
        await handling.add_note(session, complaint.id, staff, text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        return
    await message.answer(_("staff.note_saved", number=complaint.number))


async def do_resolve(message: Message, session: AsyncSession, complaint: Complaint, staff: Staff, result: str,
                     policy: CallbackPolicy, clock: Clock, *, on_spot: bool = False,
                     state: FSMContext | None = None) -> bool:
    number, ticket_id = complaint.number, complaint.id  # (a refusal rolls back: the row is expired)
    try:
        await handling.resolve(session, ticket_id, staff, result, policy=policy, now=clock(), on_spot=on_spot)
    except DeskError as error:
        if error.code == "cause_required" and state is not None:  # Ⅰ/Ⅱ: ask the cause (handlers.procedure)
            from handlers.procedure import ask_cause

            await ask_cause(message, state, ticket_id, number, result, on_spot)
            return False
        await message.answer(error_text(error))
        return False
    await message.answer(_("staff.resolved_staff", number=number))
    return True


@handlers.message(Command("resolve"), IsStaff())
async def resolve_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                          callback_policy: CallbackPolicy, clock: Clock, state: FSMContext) -> None:
    """/resolve TS… result — the result goes to the resident (Ⅰ/Ⅱ: the cause is asked first)."""
    found = await ticket_from_command(message, command, session, staff, _("staff.resolve_usage"), needs_text=True)
    if found is not None:
        await do_resolve(message, session, found[0], staff, found[1], callback_policy, clock, state=state)


@handlers.callback_query(StaffCb.filter(F.action == "res"), IsStaff())
async def resolve_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                         state: FSMContext) -> None:
    """Ask for the result note."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or complaint.assignee_id != staff.id or complaint.status != Status.ACCEPTED.value:
        await query.answer(_("stale_button") if complaint is None
                           else _("staff.resolve_needs_holder", number=complaint.number), show_alert=True)
        return
    await query.answer()
    await state.set_state(StaffFlow.resolve_note)
    await state.update_data(resolve_ticket=complaint.id, on_spot=False)
    await query.message.answer(_("staff.resolve_ask", number=complaint.number), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(
            text=_("staff.btn_on_spot"), callback_data=StaffCb(action="spot", ticket=complaint.id).pack())]]))


@handlers.callback_query(StaffCb.filter(F.action == "spot"), IsStaff(), StaffFlow.resolve_note)
async def on_spot_button(query: CallbackQuery, callback_data: StaffCb, state: FSMContext) -> None:
    """Resolved on the spot with the resident's satisfaction confirmed: no callback later."""
    if (await state.get_data()).get("resolve_ticket") != callback_data.ticket:
        await query.answer(_("stale_button"), show_alert=True)
        return
    await state.update_data(on_spot=True)
    await query.answer(_("staff.noted_short"))
    await query.message.edit_text(_("staff.on_spot_marked"))


@handlers.callback_query(StaffCb.filter(F.action == "wait"), IsStaff())
async def wait_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      sla: SlaPolicy, settings: Settings, clock: Clock) -> None:
    """Pause the clock while waiting for the resident, or resume it."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        if handling.is_paused(complaint):
            outcome = await handling.resume(session, complaint.id, staff, sla, now=clock())
            text = _("staff.resumed", number=outcome.complaint.number,
                     deadline=local_time(outcome.complaint.resolve_by, settings.tz))
        else:
            outcome = await handling.pause(session, complaint.id, staff, sla, now=clock())
            text = _("staff.paused", number=outcome.complaint.number)
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(text, show_alert=True)
    await edit_buttons(query, ticket_buttons(outcome.complaint))


@handlers.callback_query(StaffCb.filter(F.action == "sens"), IsStaff())
async def sensitive_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                           clock: Clock) -> None:
    """Toggle 不便回访 on a ticket."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        outcome = await handling.set_sensitive(session, complaint.id, staff, not complaint.sensitive, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    key = "staff.sensitive_on" if outcome.complaint.sensitive else "staff.sensitive_off"
    await query.answer(_(key, number=outcome.complaint.number), show_alert=True)
    await edit_buttons(query, ticket_buttons(outcome.complaint))


@handlers.message(StaffFlow.resolve_note, F.text, ~F.text.startswith("/"), IsStaff())
async def resolve_note(message: Message, state: FSMContext, session: AsyncSession, staff: Staff,
                       callback_policy: CallbackPolicy, clock: Clock) -> None:
    """The result note typed after pressing resolve."""
    data = await state.get_data()
    complaint = await load_visible(session, data.get("resolve_ticket", 0), staff)
    if complaint is None:
        await state.clear()
        await message.answer(_("stale_button"))
        return
    if await do_resolve(message, session, complaint, staff, message.text, callback_policy, clock,
                        on_spot=bool(data.get("on_spot")), state=state):
        await state.clear()


@handlers.message(StaffFlow.resolve_note, ~F.text.startswith("/"))
async def resolve_note_not_text(message: Message) -> None:
    """Only text can be a result note."""
    await message.answer(_("staff.resolve_text_only"))


# --- transfer and category --------------------------------------------------------------------


async def directable(query: CallbackQuery, session: AsyncSession, ticket_id: int, staff: Staff,
                     refusal: str) -> Complaint | None:
    """A ticket this person may transfer or correct; otherwise answer why and return None."""
    complaint = await load_visible(session, ticket_id, staff)
    if complaint is None or not handling.can_direct(complaint, staff):
        await query.answer(_("stale_button") if complaint is None else _(refusal, number=complaint.number),
                           show_alert=True)
        return None
    return complaint


def back_row(complaint: Complaint) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=_("staff.btn_back"), callback_data=StaffCb(action="x", ticket=complaint.id).pack())]


def holder_text(plan) -> str:
    return f" · {escape(plan.assignee.name)}" if plan.assignee else _("staff.awaiting_supervisor")


@handlers.callback_query(StaffCb.filter(F.action == "tr"), IsStaff())
async def transfer_pick_team(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Choose the team to transfer to."""
    complaint = await directable(query, session, callback_data.ticket, staff, "error.may_not_transfer")
    if complaint is None:
        return
    await query.answer()
    rows = [[InlineKeyboardButton(text=team_label(team), callback_data=StaffCb(action="trt", ticket=complaint.id, arg=team.code).pack())]
            for team in await staff_service.teams(session)]
    rows.append(back_row(complaint))
    await query.message.answer(_("staff.transfer_pick_team", number=complaint.number),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@handlers.callback_query(StaffCb.filter(F.action == "trt"), IsStaff())
async def transfer_pick_person(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Choose a person in the team, or automatic assignment."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    try:
        team = await staff_service.team_by_code(session, callback_data.arg)
    except DeskError:
        team = None
    if complaint is None or team is None or not handling.can_direct(complaint, staff):
        await query.answer(_("stale_button"), show_alert=True)
        return
    await query.answer()
    loads = await staff_service.open_load(session, team)
    rows = [[InlineKeyboardButton(text=_("staff.btn_auto"), callback_data=StaffCb(action="trp", ticket=complaint.id, arg=f"{team.code}.0").pack())]]
    for person in await staff_service.team_members(session, team):
        if person.telegram_id is None:
            continue
        rows.append([InlineKeyboardButton(
            text=_("staff.person_load", name=person.name, load=loads.get(person.id, 0)),
            callback_data=StaffCb(action="trp", ticket=complaint.id, arg=f"{team.code}.{person.id}").pack())])
    rows.append(back_row(complaint))
    await query.message.edit_text(_("staff.transfer_pick_person", number=complaint.number, team=team_label(team)),
                                  reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@handlers.callback_query(StaffCb.filter(F.action == "trp"), IsStaff())
async def transfer_do(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      clock: Clock) -> None:
    """Carry out the transfer; the new holder is pinged and the previous one told."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    team_code, _sep, person_id = callback_data.arg.rpartition(".")
    try:
        team = await staff_service.team_by_code(session, team_code)
        target = await session.get(Staff, int(person_id)) if person_id not in ("", "0") else None
    except (DeskError, ValueError, OverflowError):
        team = None
    if complaint is None or team is None or (person_id not in ("", "0") and target is None):
        await query.answer(_("stale_button"), show_alert=True)
        return
    number = complaint.number
    try:
        outcome = await handling.transfer(session, complaint.id, staff, team=team, to=target, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("staff.transferred_short"))
    await query.message.edit_text(_("staff.transferred", number=number, team=team_label(team),
                                    who=holder_text(outcome.routing)))


@handlers.callback_query(StaffCb.filter(F.action == "cat"), IsStaff())
async def category_pick(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Offer the eight categories."""
    complaint = await directable(query, session, callback_data.ticket, staff, "error.may_not_category")
    if complaint is None:
        return
    await query.answer()
    buttons = [InlineKeyboardButton(text=("✓ " if c == complaint.category else "") + category_label(c),
                                    callback_data=StaffCb(action="setc", ticket=complaint.id, arg=str(i)).pack())
               for i, c in enumerate(CATEGORIES)]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append(back_row(complaint))
    await query.message.answer(_("staff.category_pick", number=complaint.number,
                                 category=category_label(complaint.category)),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@handlers.callback_query(StaffCb.filter(F.action == "setc"), IsStaff())
async def category_set(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                       clock: Clock) -> None:
    """Store the correction; the ticket moves when the category belongs to another team."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or not callback_data.arg.isdigit() or int(callback_data.arg) >= len(CATEGORIES):
        await query.answer(_("stale_button"), show_alert=True)
        return
    category = CATEGORIES[int(callback_data.arg)]
    number = complaint.number
    try:
        outcome = await handling.correct_category(session, complaint.id, staff, category, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    if not outcome.changed:
        await query.answer(_("staff.category_same"))
        return
    await query.answer(_("staff.changed_short"))
    if outcome.routing is not None:
        await query.message.edit_text(_("staff.category_moved", number=number, category=category_label(category),
                                        team=team_label(outcome.routing.team), who=holder_text(outcome.routing)))
        return
    await query.message.edit_text(_("staff.category_changed", number=number, category=category_label(category)))


@handlers.callback_query(StaffCb.filter(F.action == "okc"), IsStaff())
async def category_confirmed(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                             clock: Clock) -> None:
    """A close call checked: the detected category stands."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        outcome = await handling.confirm_category(session, complaint.id, staff, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("staff.category_kept", category=category_label(outcome.complaint.category)))
    await edit_buttons(query, ticket_buttons(outcome.complaint))


@handlers.callback_query(StaffCb.filter(F.action == "sev"), IsStaff())
async def severity_pick(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                        settings: Settings) -> None:
    """Offer the three severities."""
    complaint = await directable(query, session, callback_data.ticket, staff, "error.may_not_severity")
    if complaint is None:
        return
    await query.answer()
    rows = [[InlineKeyboardButton(text=("✓ " if s.value == complaint.severity else "") + severity_label(s.value),
                                  callback_data=StaffCb(action="sets", ticket=complaint.id, arg=s.value).pack())]
            for s in Severity]
    if complaint.severity == Severity.GENERAL.value and not complaint.complex:
        rows.append([InlineKeyboardButton(text=_("staff.btn_complex", days=settings.sla.general_complex_resolve_days),
                                          callback_data=StaffCb(action="cpx", ticket=complaint.id).pack())])
    rows.append(back_row(complaint))
    await query.message.answer(_("staff.severity_pick", number=complaint.number,
                                 severity=severity_label(complaint.severity)),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@handlers.callback_query(StaffCb.filter(F.action == "sets"), IsStaff())
async def severity_set(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                       sla: SlaPolicy, settings: Settings, clock: Clock) -> None:
    """Change the severity; the deadlines follow."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or callback_data.arg not in {s.value for s in Severity}:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        outcome = await handling.set_severity(session, complaint.id, staff, callback_data.arg, sla, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer(_("staff.changed_short") if outcome.changed else _("staff.severity_same"))
    if outcome.changed:
        c = outcome.complaint
        await query.message.edit_text(_("staff.severity_changed", number=c.number, severity=severity_label(c.severity),
                                        respond_by=local_time(c.respond_by, settings.tz),
                                        resolve_by=local_time(c.resolve_by, settings.tz)))


@handlers.callback_query(StaffCb.filter(F.action == "cpx"), IsStaff())
async def complex_set(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      sla: SlaPolicy, settings: Settings, clock: Clock) -> None:
    """Mark a Ⅲ ticket complex: the longer resolution time; the resident is told."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    try:
        outcome = await handling.set_complex(session, complaint.id, staff, sla, now=clock())
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.message.edit_text(_("staff.complex_set", number=outcome.complaint.number,
                                    resolve_by=local_time(outcome.complaint.resolve_by, settings.tz)))
    await query.answer(_("staff.changed_short") if outcome.changed else _("staff.complex_same"))


@handlers.callback_query(StaffCb.filter(F.action == "x"), IsStaff())
async def close_chooser(query: CallbackQuery) -> None:
    """Close a chooser message."""
    await query.answer()
    await query.message.edit_text(_("staff.cancelled_action"))


# --- reviews of middling ratings ---------------------------------------------------------------


@handlers.callback_query(StaffCb.filter(F.action == "rvw"), IsStaff())
async def review_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                        state: FSMContext) -> None:
    """The review task's button: ask for the review note."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(_("stale_button"), show_alert=True)
        return
    if not handling.can_supervise(complaint, staff) or not complaint.needs_review:
        code = "may_not_review" if not handling.can_supervise(complaint, staff) else "no_review_due"
        await query.answer(error_text(DeskError(code, number=complaint.number)), show_alert=True)
        return
    await query.answer()
    await state.set_state(StaffFlow.review_note)
    await state.update_data(review_ticket=complaint.id)
    await query.message.answer(_("staff.review_ask", number=complaint.number))


@handlers.message(StaffFlow.review_note, F.text, ~F.text.startswith("/"), IsStaff())
async def review_note(message: Message, state: FSMContext, session: AsyncSession, staff: Staff,
                      clock: Clock) -> None:
    """The note typed after pressing "reviewed"."""
    ticket_id = (await state.get_data()).get("review_ticket", 0)
    try:
        outcome = await handling.mark_reviewed(session, ticket_id, staff, message.text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        if error.code not in ("review_empty", "review_too_long"):
            await state.clear()
        return
    await state.clear()
    await message.answer(_("staff.reviewed", number=outcome.complaint.number))


# --- closing by hand (managers) and validity (supervisors, managers) ----------------------------

# act → (the reasons from the list, the catalogue prefix of their labels)
REASON_ACTS = {
    "close": (MANUAL_CLOSE_REASONS, "close_reason"),
    "invalid": (handling.INVALID_REASONS, "invalid_reason"),
}


def may_act(act: str, complaint: Complaint, staff: Staff) -> bool:
    if act == "close":
        return staff.role in ("manager", "admin") and Status(complaint.status) in handling.CLOSABLE
    return handling.can_supervise(complaint, staff) and Status(complaint.status) in handling.OPEN_STATUSES


def with_supervision(markup: InlineKeyboardMarkup | None, complaint: Complaint,
                     staff: Staff) -> InlineKeyboardMarkup | None:
    """A supervisor's or manager's card also offers 无效投诉 and (managers) 手动关闭."""
    row = [InlineKeyboardButton(text=_(f"staff.btn_{act}"), callback_data=StaffCb(action=act[:2], ticket=complaint.id).pack())
           for act in ("invalid", "close") if may_act(act, complaint, staff)]
    rows = [row] if row else []
    if complaint.plan_status == "submitted" and handling.can_supervise(complaint, staff):
        from bot.render_procedure import plan_buttons  # 处理方案 waiting for this person's decision

        rows += plan_buttons(complaint).inline_keyboard
    if not rows:
        return markup
    return InlineKeyboardMarkup(inline_keyboard=[*(markup.inline_keyboard if markup else []), *rows])


ACT_OF = {"in": "invalid", "cl": "close"}


def reasons_markup(act: str, complaint: Complaint) -> InlineKeyboardMarkup:
    reasons, prefix = REASON_ACTS[act]
    rows = [[InlineKeyboardButton(text=_(f"{prefix}.{code}"), callback_data=StaffCb(
        action=f"{act[:2]}r", ticket=complaint.id, arg=code).pack())] for code in reasons]
    rows.append(back_row(complaint))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def refusal(act: str, complaint: Complaint) -> str:
    if act == "close":
        return error_text(DeskError("may_not_close", number=complaint.number))
    return error_text(DeskError("may_not_invalid", number=complaint.number))


async def ask_reason(message: Message, act: str, complaint: Complaint) -> None:
    await message.answer(_(f"staff.{act}_pick", number=complaint.number), reply_markup=reasons_markup(act, complaint))


@handlers.message(Command("close", "invalid"), IsStaff())
async def reason_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff) -> None:
    """/close TS… (managers) or /invalid TS… (supervisors, managers): choose the reason."""
    act = command.command
    found = await ticket_from_command(message, command, session, staff, _("staff.ticket_usage", command=act))
    if found is None:
        return
    complaint = found[0]
    allowed = staff.role in ("manager", "admin") if act == "close" else handling.can_supervise(complaint, staff)
    if not allowed:
        await message.answer(refusal(act, complaint))
        return
    if not may_act(act, complaint, staff):
        await message.answer(error_text(DeskError(f"{act}_not_open", number=complaint.number, status=complaint.status)))
        return
    await ask_reason(message, act, complaint)


@handlers.callback_query(StaffCb.filter(F.action.in_(("in", "cl"))), IsStaff())
async def reason_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """The card's 无效投诉 / 手动关闭 button: choose the reason."""
    act = ACT_OF[callback_data.action]
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or not may_act(act, complaint, staff):
        await query.answer(_("stale_button") if complaint is None else refusal(act, complaint), show_alert=True)
        return
    await query.answer()
    await ask_reason(query.message, act, complaint)


@handlers.callback_query(StaffCb.filter(F.action.in_(("inr", "clr"))), IsStaff())
async def reason_chosen(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                        state: FSMContext) -> None:
    """A reason from the list: now the note (for the resident)."""
    act = ACT_OF[callback_data.action[:2]]
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or callback_data.arg not in REASON_ACTS[act][0] or not may_act(act, complaint, staff):
        await query.answer(_("stale_button"), show_alert=True)
        return
    await state.set_state(StaffFlow.reason_note)
    await state.update_data(reason_act=act, reason_ticket=complaint.id, reason_code=callback_data.arg)
    await query.message.edit_text(_(f"staff.{act}_ask", number=complaint.number,
                                    reason=_(f"{REASON_ACTS[act][1]}.{callback_data.arg}")))
    await query.answer()  # after the question is shown


@handlers.message(StaffFlow.reason_note, F.text, ~F.text.startswith("/"), IsStaff())
async def reason_note(message: Message, state: FSMContext, session: AsyncSession, staff: Staff,
                      clock: Clock) -> None:
    """The note: the ticket is closed by hand, or marked invalid; the resident gets the note."""
    data = await state.get_data()
    act, code = data.get("reason_act"), data.get("reason_code", "")
    use_case = handling.close_by_hand if act == "close" else handling.mark_invalid
    try:
        outcome = await use_case(session, data.get("reason_ticket", 0), staff, code, message.text, now=clock())
    except DeskError as error:
        await message.answer(error_text(error))
        if not error.code.endswith(("_empty", "_too_long")):
            await state.clear()
        return
    await state.clear()
    await message.answer(_(f"staff.{act}_done", number=outcome.complaint.number,
                           reason=_(f"{REASON_ACTS[act][1]}.{code}")))


# --- the callback record (回访记录): who called, how, with what result -----------------------------

CALL_RESULTS = ("5", "4", "3", "2", "1", "0", "x")  # ratings, 0 = not solved, x = nobody answered


async def record_text(session: AsyncSession, complaint: Complaint, settings: Settings) -> str:
    lines = [_("staff.callback_record_header", number=complaint.number)]
    record = await satisfaction.callback_record(session, complaint.id)
    if not record:
        return _("staff.callback_record_empty", number=complaint.number)
    for round_, attempts in record:
        lines.append(_("staff.callback_round_line", round=round_.round_no,
                       status=_(f"callback_round_status.{round_.status}")))
        for attempt in attempts:
            caller = await session.get(Staff, attempt.caller_id) if attempt.caller_id else None
            if attempt.state == "answered":
                result = _("callback_result.answered", rating=rating_label(round_.rating)
                           if round_.rating is not None else "—")
            else:
                result = _(f"callback_result.{attempt.state}")
            lines.append(_("staff.callback_attempt_line", no=attempt.attempt_no,
                           time=local_time(attempt.sent_at or attempt.due_at, settings.tz),
                           method=_(f"callback_method.{attempt.method}"),
                           caller=escape(caller.name) if caller else _("callback_caller.bot"), result=result))
    return "\n".join(lines)


def may_call(complaint: Complaint, staff: Staff) -> bool:
    return handling.can_supervise(complaint, staff)


async def method_markup(session: AsyncSession, complaint: Complaint, staff: Staff) -> InlineKeyboardMarkup | None:
    """Buttons to record a call, while the ticket's callback round is open."""
    if not may_call(complaint, staff) or await satisfaction.open_round(session, complaint.id) is None:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_(f"callback_method.{method}"), callback_data=StaffCb(action="cbm", ticket=complaint.id, arg=method).pack())
        for method in satisfaction.CALL_METHODS]])


@handlers.message(Command("callback"), IsStaff())
async def callback_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                           settings: Settings) -> None:
    """/callback TS…: the 回访记录, and buttons to record a phone (visit, SMS, survey) callback."""
    found = await ticket_from_command(message, command, session, staff, _("staff.ticket_usage", command="callback"))
    if found is None:
        return
    complaint = found[0]
    await message.answer(await record_text(session, complaint, settings),
                         reply_markup=await method_markup(session, complaint, staff))


@handlers.callback_query(StaffCb.filter(F.action == "cbm"), IsStaff())
async def call_method(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """How the resident was called back: now the result."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or callback_data.arg not in satisfaction.CALL_METHODS or not may_call(complaint, staff):
        await query.answer(_("stale_button"), show_alert=True)
        return
    method = callback_data.arg
    buttons = [InlineKeyboardButton(text=_("staff.btn_no_answer") if result == "x" else rating_label(int(result)),
                                    callback_data=StaffCb(action="cbr", ticket=complaint.id,
                                                          arg=f"{method}.{result}").pack())
               for result in CALL_RESULTS]
    rows = [buttons[:2], buttons[2:5], buttons[5:], back_row(complaint)]
    await query.message.answer(_("staff.call_pick_result", number=complaint.number,
                                 method=_(f"callback_method.{method}")),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
    await query.answer()


@handlers.callback_query(StaffCb.filter(F.action == "cbr"), IsStaff())
async def call_result(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      settings: Settings, callback_policy: CallbackPolicy, sla: SlaPolicy, clock: Clock) -> None:
    """Record the call as an attempt of the open round (回访人 = this person, 方式 = the method)."""
    method, _sep, result = callback_data.arg.partition(".")
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or method not in satisfaction.CALL_METHODS or result not in CALL_RESULTS:
        await query.answer(_("stale_button"), show_alert=True)
        return
    rating = None if result == "x" else int(result)
    try:
        answer = await satisfaction.record_call(session, complaint.id, staff, method, rating,
                                                policy=callback_policy, now=clock(), sla=sla)
    except DeskError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    outcome = _(f"staff.call_outcome.{answer.outcome}")
    await query.message.edit_text(_("staff.call_recorded", number=complaint.number,
                                    method=_(f"callback_method.{method}"), outcome=outcome))
    await query.answer()
    await query.message.answer(await record_text(session, answer.complaint, settings),
                               reply_markup=await method_markup(session, answer.complaint, staff))
