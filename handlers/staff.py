"""Staff: onboarding by deep link, ping buttons, /mine, /ticket, /accept, /note, /resolve, /invite."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
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

from bot import texts
from bot import texts_staff as st
from bot.notify import CATEGORIES, Notifier, phone_for, render_card, ticket_buttons
from bot.settings import Settings
from bot.callbacks import StaffCb
from models.tables import Complaint, Staff, Team
from models.types import Clock
from services import callbacks, handling
from services.callbacks import CallbackPolicy
from services.sla import SlaPolicy
from services import staff as staff_service
from services.domain import Severity, Status

router = Router(name="staff")
router.message.filter(F.chat.type == "private")


class StaffFlow(StatesGroup):
    """A staff member typing the result note after pressing "resolve"."""

    resolve_note = State()


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
    pairs = (st.STAFF_COMMANDS + (st.REPORT_COMMANDS if person.role in ("supervisor", "manager", "admin") else [])
             + (st.ADMIN_COMMANDS if person.role == "admin" else []))
    return [BotCommand(command=c, description=d) for c, d in pairs]


async def team_label(session: AsyncSession, person: Staff) -> str:
    team = await session.get(Team, person.team_id) if person.team_id else None
    return team.name if team else ""


# --- onboarding -------------------------------------------------------------------------------


@router.message(CommandStart(deep_link=True))
async def redeem(message: Message, command: CommandObject, session: AsyncSession, state: FSMContext) -> None:
    """Open an invite link: bind this Telegram account to the staff record."""
    try:
        person = await staff_service.redeem_invite(
            session, command.args or "", telegram_id=message.from_user.id, chat_id=message.chat.id
        )
    except staff_service.InviteError as error:
        await message.answer(str(error))
        return
    await state.clear()
    await message.bot.set_my_commands(staff_commands(person), scope=BotCommandScopeChat(chat_id=message.chat.id))
    await message.answer(st.WELCOME.format(
        name=escape(person.name), team=escape(await team_label(session, person)), role=st.ROLE_LABELS[person.role]))


@router.message(CommandStart(), IsStaff())
async def staff_start(message: Message, session: AsyncSession, staff: Staff) -> None:
    """Staff pressing Start again get their own greeting and menu."""
    await message.bot.set_my_commands(staff_commands(staff), scope=BotCommandScopeChat(chat_id=message.chat.id))
    await message.answer(st.WELCOME.format(
        name=escape(staff.name), team=escape(await team_label(session, staff)), role=st.ROLE_LABELS[staff.role]))


@router.message(Command("invite"), IsStaff())
async def invite(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """Admins create a one-time invite link from chat."""
    if staff.role != "admin":
        await message.answer(st.ADMIN_ONLY)
        return
    parts = (command.args or "").split()
    teams = ", ".join(t.code for t in await staff_service.teams(session))
    if len(parts) < 2:
        await message.answer(st.INVITE_USAGE.format(teams=teams))
        return
    name, rest = parts[0], parts[1:]
    if rest[0] in staff_service.ROLES:
        team_code, role = None, rest[0]
    else:
        team_code, role = rest[0], (rest[1] if len(rest) > 1 else "staff")
    try:
        person, code = await staff_service.create_invite(
            session, name=name, team_code=team_code, role=role, ttl=settings.invite_ttl
        )
    except staff_service.StaffError as error:
        await message.answer(f"{escape(str(error))}\n\n" + st.INVITE_USAGE.format(teams=teams))
        return
    me = await message.bot.me()
    await message.answer(st.INVITE_CREATED.format(
        name=escape(person.name), team=escape(await team_label(session, person)),
        role=st.ROLE_LABELS[person.role], days=settings.invite_ttl.days or 1,
        link=f"https://t.me/{me.username}?start={code}"))


@router.message(Command("help"), IsStaff())
async def staff_help(message: Message) -> None:
    """Staff get their own help."""
    await message.answer(st.STAFF_HELP)


# --- lists and cards --------------------------------------------------------------------------


@router.message(Command("mine"), IsStaff())
async def mine(message: Message, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """Open tickets of this staff member, nearest deadline first."""
    tickets = await handling.open_tickets_of(session, staff)
    if not tickets:
        await message.answer(st.MINE_EMPTY)
        return
    tickets.sort(key=lambda t: (t.resolve_by or t.created_at, t.id))
    lines = [st.MINE_HEADER.format(count=len(tickets))]
    for index, ticket in enumerate(tickets[:30], 1):
        lines.append(st.MINE_LINE.format(
            index=index, number=ticket.number, status=Status(ticket.status).label,
            severity=texts.severity_label(ticket.severity),
            resolve_by=texts.local_time(ticket.resolve_by, settings.tz) if ticket.resolve_by else "—",
            snippet=texts.snippet(ticket.description)))
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
    text = await render_card(session, complaint, settings, header=f"🗂 <b>工单 {complaint.number}</b>", full_phone=full)
    await message.answer(text, reply_markup=ticket_buttons(complaint))


@router.message(Command("ticket"), IsStaff())
async def ticket(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """One ticket with its action buttons."""
    found = await ticket_from_command(message, command, session, staff, st.TICKET_USAGE.format(command="ticket"))
    if found is not None:
        await show_card(message, session, found[0], staff, settings)


@router.callback_query(StaffCb.filter(F.action == "view"), IsStaff())
async def view_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, settings: Settings) -> None:
    """A ticket from /mine."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    await query.answer()
    await show_card(query.message, session, complaint, staff, settings)


# --- accept -----------------------------------------------------------------------------------


async def do_accept(session: AsyncSession, complaint: Complaint, staff: Staff, notifier: Notifier, clock: Clock) -> str:
    await handling.accept(session, complaint, staff, now=clock())
    await notifier.resident_accepted(complaint, staff)
    return st.ACCEPTED_STAFF.format(number=complaint.number, contact=phone_for(complaint))


@router.message(Command("accept"), IsStaff())
async def accept_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, notifier: Notifier,
                         clock: Clock) -> None:
    """/accept TS…"""
    found = await ticket_from_command(message, command, session, staff, st.TICKET_USAGE.format(command="accept"))
    if found is None:
        return
    complaint = found[0]
    try:
        await message.answer(await do_accept(session, complaint, staff, notifier, clock), reply_markup=ticket_buttons(complaint))
    except handling.HandlingError as error:
        await message.answer(escape(str(error)))


@router.callback_query(StaffCb.filter(F.action == "acc"), IsStaff())
async def accept_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, notifier: Notifier,
                        clock: Clock) -> None:
    """The accept button of a ping."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    try:
        reply = await do_accept(session, complaint, staff, notifier, clock)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    await query.answer("已接单")
    await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, ticket_buttons(complaint))
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
        await message.answer(st.TICKET_NOT_FOUND.format(number=escape(number[:40])))
        return None
    return complaint, text


@router.message(Command("note"), IsStaff())
async def note_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff, notifier: Notifier) -> None:
    """/note TS… progress text — forwarded to the resident."""
    found = await ticket_from_command(message, command, session, staff, st.NOTE_USAGE, needs_text=True)
    if found is None:
        return
    complaint, text = found
    try:
        note = await handling.add_note(session, complaint, staff, text)
    except handling.HandlingError as error:
        await message.answer(escape(str(error)))
        return
    await notifier.resident_note(complaint, note)
    await message.answer(st.NOTE_SAVED.format(number=complaint.number))


async def do_resolve(message: Message, session: AsyncSession, complaint: Complaint, staff: Staff,
                     notifier: Notifier, result: str, policy: CallbackPolicy, clock: Clock, *,
                     on_spot: bool = False) -> bool:
    now = clock()
    try:
        result = await handling.resolve(session, complaint, staff, result, on_spot=on_spot, now=now)
    except handling.HandlingError as error:
        await message.answer(escape(str(error)))
        return False
    await notifier.resident_resolved(complaint, result)
    await callbacks.plan_round(session, complaint, policy, now=now)
    await message.answer(st.RESOLVED_STAFF.format(number=complaint.number))
    return True


@router.message(Command("resolve"), IsStaff())
async def resolve_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                          notifier: Notifier, callback_policy: CallbackPolicy, clock: Clock) -> None:
    """/resolve TS… result — the result goes to the resident."""
    found = await ticket_from_command(message, command, session, staff, st.RESOLVE_USAGE, needs_text=True)
    if found is not None:
        await do_resolve(message, session, found[0], staff, notifier, found[1], callback_policy, clock)


@router.callback_query(StaffCb.filter(F.action == "res"), IsStaff())
async def resolve_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, state: FSMContext) -> None:
    """Ask for the result note."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or complaint.assignee_id != staff.id or complaint.status != Status.ACCEPTED.value:
        await query.answer(
            texts.STALE_BUTTON if complaint is None else f"工单 {complaint.number} 需由处理人接单后办结。", show_alert=True)
        return
    await query.answer()
    await state.set_state(StaffFlow.resolve_note)
    await state.update_data(resolve_ticket=complaint.id, on_spot=False)
    await query.message.answer(st.RESOLVE_ASK.format(number=complaint.number), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(
            text=st.BTN_ON_SPOT, callback_data=StaffCb(action="spot", ticket=complaint.id).pack())]]))


@router.callback_query(StaffCb.filter(F.action == "spot"), IsStaff(), StaffFlow.resolve_note)
async def on_spot_button(query: CallbackQuery, callback_data: StaffCb, state: FSMContext) -> None:
    """Resolved on the spot with the resident's satisfaction confirmed: no callback later."""
    if (await state.get_data()).get("resolve_ticket") != callback_data.ticket:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    await state.update_data(on_spot=True)
    await query.answer("已记录")
    await query.message.edit_text(st.ON_SPOT_MARKED)


@router.callback_query(StaffCb.filter(F.action == "wait"), IsStaff())
async def wait_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                      notifier: Notifier, sla: SlaPolicy, settings: Settings) -> None:
    """Pause the clock while waiting for the resident, or resume it."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    try:
        if handling.is_paused(complaint):
            await handling.resume(session, complaint, sla, actor="staff", actor_id=staff.telegram_id)
            text = st.RESUMED.format(number=complaint.number, deadline=texts.local_time(complaint.resolve_by, settings.tz))
        else:
            await handling.pause(session, complaint, staff, sla)
            text = st.PAUSED.format(number=complaint.number)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    await query.answer(text, show_alert=True)
    await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, ticket_buttons(complaint))


@router.callback_query(StaffCb.filter(F.action == "sens"), IsStaff())
async def sensitive_button(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                           notifier: Notifier) -> None:
    """Toggle 不便回访 on a ticket."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    try:
        await handling.set_sensitive(session, complaint, staff, not complaint.sensitive)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    text = st.SENSITIVE_ON if complaint.sensitive else st.SENSITIVE_OFF
    await query.answer(text.format(number=complaint.number), show_alert=True)
    await notifier.sender.edit_markup(query.message.chat.id, query.message.message_id, ticket_buttons(complaint))


@router.message(StaffFlow.resolve_note, F.text, ~F.text.startswith("/"), IsStaff())
async def resolve_note(message: Message, state: FSMContext, session: AsyncSession, staff: Staff,
                       notifier: Notifier, callback_policy: CallbackPolicy, clock: Clock) -> None:
    """The result note typed after pressing resolve."""
    data = await state.get_data()
    complaint = await load_visible(session, data.get("resolve_ticket", 0), staff)
    if complaint is None:
        await state.clear()
        await message.answer(texts.STALE_BUTTON)
        return
    if await do_resolve(message, session, complaint, staff, notifier, message.text, callback_policy, clock,
                        on_spot=bool(data.get("on_spot"))):
        await state.clear()


@router.message(StaffFlow.resolve_note, ~F.text.startswith("/"))
async def resolve_note_not_text(message: Message) -> None:
    """Only text can be a result note."""
    await message.answer("请用文字输入处理结果，或发送 /cancel 放弃。")


# --- transfer and category --------------------------------------------------------------------


async def directable(query: CallbackQuery, session: AsyncSession, ticket_id: int, staff: Staff,
                     refusal: str) -> Complaint | None:
    """A ticket this person may transfer or correct; otherwise answer why and return None."""
    complaint = await load_visible(session, ticket_id, staff)
    if complaint is None or not handling.can_direct(complaint, staff):
        await query.answer(texts.STALE_BUTTON if complaint is None else refusal.format(number=complaint.number),
                           show_alert=True)
        return None
    return complaint


@router.callback_query(StaffCb.filter(F.action == "tr"), IsStaff())
async def transfer_pick_team(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Choose the team to transfer to."""
    complaint = await directable(query, session, callback_data.ticket, staff, "您不能转派工单 {number}。")
    if complaint is None:
        return
    await query.answer()
    rows = [[InlineKeyboardButton(text=team.name, callback_data=StaffCb(action="trt", ticket=complaint.id, arg=team.code).pack())]
            for team in await staff_service.teams(session)]
    rows.append([InlineKeyboardButton(text=st.BTN_BACK, callback_data=StaffCb(action="x", ticket=complaint.id).pack())])
    await query.message.answer(st.TRANSFER_PICK_TEAM.format(number=complaint.number),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(StaffCb.filter(F.action == "trt"), IsStaff())
async def transfer_pick_person(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Choose a person in the team, or automatic assignment."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    try:
        team = await staff_service.team_by_code(session, callback_data.arg)
    except staff_service.StaffError:
        team = None
    if complaint is None or team is None or not handling.can_direct(complaint, staff):
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    await query.answer()
    loads = await staff_service.open_load(session, team)
    rows = [[InlineKeyboardButton(text=st.BTN_AUTO, callback_data=StaffCb(action="trp", ticket=complaint.id, arg=f"{team.code}.0").pack())]]
    for person in await staff_service.team_members(session, team):
        if person.telegram_id is None:
            continue
        rows.append([InlineKeyboardButton(
            text=f"{person.name}（{loads.get(person.id, 0)}）",
            callback_data=StaffCb(action="trp", ticket=complaint.id, arg=f"{team.code}.{person.id}").pack())])
    rows.append([InlineKeyboardButton(text=st.BTN_BACK, callback_data=StaffCb(action="x", ticket=complaint.id).pack())])
    await query.message.edit_text(st.TRANSFER_PICK_PERSON.format(number=complaint.number, team=escape(team.name)),
                                  reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(StaffCb.filter(F.action == "trp"), IsStaff())
async def transfer_do(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, notifier: Notifier) -> None:
    """Carry out the transfer and ping the new holder."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    team_code, _, person_id = callback_data.arg.rpartition(".")
    try:
        team = await staff_service.team_by_code(session, team_code)
        target = await session.get(Staff, int(person_id)) if person_id not in ("", "0") else None
    except (staff_service.StaffError, ValueError):
        team = None
    if complaint is None or team is None or (person_id not in ("", "0") and target is None):
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    previous = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
    try:
        routing = await handling.transfer(session, complaint, staff, team=team, to=target)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    await query.answer("已转派")
    who = f" · {routing.assignee.name}" if routing.assignee else "（待主管分派）"
    await query.message.edit_text(st.TRANSFERRED.format(number=complaint.number, team=escape(team.name), who=escape(who)))
    if previous is not None and previous.id != staff.id and (routing.assignee is None or previous.id != routing.assignee.id):
        await notifier.to_staff(previous, st.TRANSFERRED_AWAY.format(
            number=complaint.number, by=escape(staff.name), team=escape(team.name), who=escape(who)))
    await notifier.dispatch(complaint.id, header=st.PING_HEADER["transfer"], routing=routing)


@router.callback_query(StaffCb.filter(F.action == "cat"), IsStaff())
async def category_pick(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Offer the eight categories."""
    complaint = await directable(query, session, callback_data.ticket, staff, "您不能修改工单 {number} 的分类。")
    if complaint is None:
        return
    await query.answer()
    buttons = [InlineKeyboardButton(text=("✓ " if c == complaint.category else "") + c,
                                    callback_data=StaffCb(action="setc", ticket=complaint.id, arg=str(i)).pack())
               for i, c in enumerate(CATEGORIES)]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(text=st.BTN_BACK, callback_data=StaffCb(action="x", ticket=complaint.id).pack())])
    await query.message.answer(st.CATEGORY_PICK.format(number=complaint.number, category=complaint.category),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(StaffCb.filter(F.action == "setc"), IsStaff())
async def category_set(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff, notifier: Notifier) -> None:
    """Store the correction; move the ticket when the category belongs to another team."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or not callback_data.arg.isdigit() or int(callback_data.arg) >= len(CATEGORIES):
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    category = CATEGORIES[int(callback_data.arg)]
    try:
        changed = await handling.correct_category(session, complaint, staff, category)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    if not changed:
        await query.answer(st.CATEGORY_SAME)
        return
    await query.answer("已修改")
    new_team = await staff_service.team_for_category(session, category)
    if new_team.id != complaint.team_id and Status(complaint.status) in (Status.NEW, Status.ASSIGNED, Status.REOPENED):
        routing = await handling.transfer(session, complaint, staff, team=new_team)
        who = f" · {routing.assignee.name}" if routing.assignee else "（待主管分派）"
        await query.message.edit_text(st.CATEGORY_MOVED.format(
            number=complaint.number, category=category, team=escape(new_team.name), who=escape(who)))
        await notifier.dispatch(complaint.id, header=st.PING_HEADER["transfer"], routing=routing)
        return
    await query.message.edit_text(st.CATEGORY_CHANGED.format(number=complaint.number, category=category))


@router.callback_query(StaffCb.filter(F.action == "sev"), IsStaff())
async def severity_pick(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff) -> None:
    """Offer the three severities."""
    complaint = await directable(query, session, callback_data.ticket, staff, "您不能修改工单 {number} 的级别。")
    if complaint is None:
        return
    await query.answer()
    rows = [[InlineKeyboardButton(text=("✓ " if s.value == complaint.severity else "") + s.label,
                                  callback_data=StaffCb(action="sets", ticket=complaint.id, arg=s.value).pack())]
            for s in Severity]
    rows.append([InlineKeyboardButton(text=st.BTN_BACK, callback_data=StaffCb(action="x", ticket=complaint.id).pack())])
    await query.message.answer(st.SEVERITY_PICK.format(number=complaint.number, severity=Severity(complaint.severity).label),
                               reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(StaffCb.filter(F.action == "sets"), IsStaff())
async def severity_set(query: CallbackQuery, callback_data: StaffCb, session: AsyncSession, staff: Staff,
                       sla: SlaPolicy, settings: Settings) -> None:
    """Change the severity; the deadlines follow."""
    complaint = await load_visible(session, callback_data.ticket, staff)
    if complaint is None or callback_data.arg not in {s.value for s in Severity}:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    try:
        changed = await handling.set_severity(session, complaint, staff, callback_data.arg, sla)
    except handling.HandlingError as error:
        await query.answer(str(error), show_alert=True)
        return
    await query.answer("已修改" if changed else "级别没有变化")
    if changed:
        await query.message.edit_text(st.SEVERITY_CHANGED.format(
            number=complaint.number, severity=Severity(complaint.severity).label,
            respond_by=texts.local_time(complaint.respond_by, settings.tz),
            resolve_by=texts.local_time(complaint.resolve_by, settings.tz)))


@router.callback_query(StaffCb.filter(F.action == "x"), IsStaff())
async def close_chooser(query: CallbackQuery) -> None:
    """Close a chooser message."""
    await query.answer()
    await query.message.edit_text(st.CANCELLED_ACTION)
