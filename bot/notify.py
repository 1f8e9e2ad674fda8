"""Messages that go out on their own: assignment pings, resident updates, supervisor alerts.

Handlers and jobs call these after a service changed something; everything goes through the
one Sender, and a chat that refuses us (403) is marked unreachable here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts
from bot import texts_staff as st
from bot.callbacks import RatingCb, StaffCb
from bot.sender import Delivery, Sender
from bot.settings import Settings
from models.db import fresh_transaction
from models.tables import Complaint, Resident, Staff, Team
from services import handling, matters
from services import staff as staff_service
from services.callbacks import NOT_SOLVED, RATING_LABELS
from services.domain import Category, Kind, Severity, Status

log = logging.getLogger(__name__)
MAX_REROUTES = 5
ROUTING_LOCK_KEY = 0x48554946  # "HUIF": one advisory lock for routing decisions
CATEGORIES = [c.value for c in Category]


def ticket_buttons(complaint: Complaint) -> InlineKeyboardMarkup | None:
    """Buttons that fit the ticket's status."""
    def button(text: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=StaffCb(action=action, ticket=complaint.id).pack())

    status = Status(complaint.status)
    if status in (Status.NEW, Status.ASSIGNED, Status.REOPENED):
        rows = [[button(st.BTN_ACCEPT, "acc")], [button(st.BTN_TRANSFER, "tr"), button(st.BTN_CATEGORY, "cat"),
                                                 button(st.BTN_SEVERITY, "sev")]]
    elif status is Status.ACCEPTED:
        paused = bool(complaint.pauses) and complaint.pauses[-1][1] is None
        rows = [[button(st.BTN_RESOLVE, "res")], [button(st.BTN_TRANSFER, "tr"), button(st.BTN_CATEGORY, "cat"),
                                                  button(st.BTN_SEVERITY, "sev")],
                [button(st.BTN_SENSITIVE_OFF if complaint.sensitive else st.BTN_SENSITIVE, "sens"),
                 button(st.BTN_RESUME if paused else st.BTN_PAUSE, "wait")]]
    else:
        return None
    return InlineKeyboardMarkup(inline_keyboard=rows)


def contact_text(complaint: Complaint, *, full: bool) -> str:
    return texts.contact_line(
        anonymous=complaint.anonymous, name=complaint.contact_name, phone=complaint.contact_phone, masked=not full
    )


def keywords_reason(complaint: Complaint) -> str:
    """The category keywords that decided the ticket, for staff."""
    target = f"category:{complaint.category}"
    terms = []
    for hit in complaint.keywords:
        if hit.get("target") == target and hit["term"] not in terms:
            terms.append(hit["term"])
    return "关键词：" + "、".join(terms[:6]) if terms else "未匹配到分类关键词"


async def render_card(session: AsyncSession, complaint: Complaint, settings: Settings, *, header: str,
                      full_phone: bool) -> str:
    assignee = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
    team = await session.get(Team, complaint.team_id) if complaint.team_id else None
    who = f"（{team.name if team else ''}{' · ' + assignee.name if assignee else ''}）" if team else ""
    photos = len(complaint.photos)
    return st.CARD.format(
        header=header,
        number=complaint.number,
        category=complaint.category,
        kind=Kind(complaint.kind).value,
        severity=Severity(complaint.severity).label,
        reason=escape(keywords_reason(complaint)),
        status=Status(complaint.status).label,
        assignee=escape(who),
        respond_by=texts.local_time(complaint.respond_by, settings.tz) if complaint.respond_by else "—",
        resolve_by=texts.local_time(complaint.resolve_by, settings.tz) if complaint.resolve_by else "—",
        location=escape(complaint.location),
        description=escape(texts.shorten(complaint.description, 1500)),
        contact=contact_text(complaint, full=full_phone),
        photos=f"\n照片：{photos}张（见下）" if photos else "",
    )


class Notifier:
    """Sends what the desk must tell people, and handles who cannot be reached."""

    def __init__(self, sender: Sender, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sender = sender
        self.sessions = sessions
        self.settings = settings
        # Routing reads everyone's load and then assigns: one at a time, or a burst of
        # complaints would all see the same "least loaded" person.
        self._routing = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def routing_lock(self):
        """Across processes too: on PostgreSQL an advisory lock held on its own connection.

        (SQLite has one writer at a time, and the in-process lock covers one bot process.)
        """
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            yield
            return
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ROUTING_LOCK_KEY})
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ROUTING_LOCK_KEY})
                await connection.commit()

    # --- delivery with 403 handling ---------------------------------------------------------

    async def to_staff(self, person: Staff, text: str, *, reply_markup=None) -> Delivery:
        delivery = await self.sender.send_text(person.chat_id, text, reply_markup=reply_markup)
        if delivery.forbidden:
            await self.staff_unreachable(person.id)
        return delivery

    async def to_resident(self, complaint: Complaint, text: str) -> Delivery:
        async with self.sessions() as session:
            resident = await session.get(Resident, complaint.resident_id)
        delivery = await self.sender.send_text(resident.chat_id, text)
        if delivery.forbidden:
            await self.resident_unreachable(resident.id)
        return delivery

    async def on_forbidden(self, chat_id: int, description: str) -> None:
        """Hook for the rate limiter: a chat refused a message (blocked or never started)."""
        async with self.sessions() as session:
            person = (await session.exec(select(Staff).where(Staff.chat_id == chat_id))).first()
            resident = (await session.exec(select(Resident).where(Resident.chat_id == chat_id))).first()
        if person is not None:
            await self.staff_unreachable(person.id)
        elif resident is not None:
            await self.resident_unreachable(resident.id)
        log.info("chat %s unreachable: %s", chat_id, description)

    async def resident_unreachable(self, resident_id: int) -> None:
        async with self.sessions() as session:
            resident = await session.get(Resident, resident_id)
            if resident and not resident.unreachable:
                await fresh_transaction(session)
                resident.unreachable = True
                session.add(resident)
                await session.commit()

    async def staff_unreachable(self, staff_id: int) -> None:
        """Mark once; tell the supervisor (if it is someone else) the first time."""
        async with self.sessions() as session:
            person = await session.get(Staff, staff_id)
            if person is None or person.unreachable:
                return
            await fresh_transaction(session)
            person.unreachable = True
            session.add(person)
            await session.commit()
            supervisor = await staff_service.supervisor_of(session, person.team_id)
        if supervisor is not None and supervisor.id != person.id:
            extra = "其名下新派工单将改派他人。"
            await self.to_staff(supervisor, st.UNREACHABLE_SUPERVISOR.format(name=escape(person.name), extra=extra))

    # --- pings ------------------------------------------------------------------------------

    async def ping(self, complaint_id: int, person: Staff, *, header: str, buttons: bool = True) -> Delivery:
        async with self.sessions() as session:
            complaint = await session.get(Complaint, complaint_id)
            text = await render_card(session, complaint, self.settings, header=header, full_phone=False)
        delivery = await self.to_staff(person, text, reply_markup=ticket_buttons(complaint) if buttons else None)
        if delivery.ok and complaint.photos:
            await self.sender.send_photos(person.chat_id, list(complaint.photos), caption=f"{complaint.number} 现场照片")
        return delivery

    async def dispatch(self, complaint_id: int, *, header: str = st.PING_HEADER["assign"],
                       routing: staff_service.Routing | None = None, by: Staff | None = None) -> None:
        """Route (unless already routed), ping the assignee, re-route past unreachable people."""
        tried: set[int] = set()
        for _ in range(MAX_REROUTES):
            async with self._routing, self.routing_lock(), self.sessions() as session:
                complaint = await session.get(Complaint, complaint_id)
                if routing is None:
                    routing = await staff_service.route(session, complaint, exclude=tried)
                    await handling.assign(session, complaint, routing,
                                          note="重新派单" if tried else None)
            if routing.assignee is None:
                await self.tell_supervisors_queue(complaint, routing)
                return
            delivery = await self.ping(complaint_id, routing.assignee, header=header)
            if delivery.ok:
                if routing.notify_supervisor and routing.supervisor is not None:
                    why = "紧急" if complaint.severity == Severity.URGENT.value else "重大"
                    await self.ping(complaint_id, routing.supervisor,
                                    header=st.PING_HEADER["supervisor"].format(why=why), buttons=False)
                return
            tried.add(routing.assignee.id)
            routing = None  # route again without the person we could not reach

    async def tell_supervisors_queue(self, complaint: Complaint, routing: staff_service.Routing) -> None:
        """Nobody in the team can take it: the supervisor, else managers and admins, must."""
        targets = [routing.supervisor] if routing.supervisor else []
        if not targets:
            async with self.sessions() as session:
                targets = list(await staff_service.people_with_role(session, "manager", "admin"))
        for person in targets:
            await self.ping(complaint.id, person, header=st.PING_HEADER["queue"])

    # --- deadlines and upgrades --------------------------------------------------------------

    async def managers(self) -> list[Staff]:
        """Managers, else admins: who hears of major complaints and second-level escalations."""
        async with self.sessions() as session:
            people = list(await staff_service.people_with_role(session, "manager"))
            return people or list(await staff_service.people_with_role(session, "admin"))

    async def major_alert(self, complaint_ids: list[int], reason: str | None) -> None:
        """重大投诉: the manager gets the linked tickets listed together."""
        async with self.sessions() as session:
            first = await session.get(Complaint, complaint_ids[0])
            group = [first, *await matters.related(session, first)]
        lines = "\n".join(st.MAJOR_LINE.format(
            number=c.number, category=c.category, location=escape(c.location), status=Status(c.status).label,
            snippet=texts.snippet(c.description, 30)) for c in group)
        text = st.MAJOR_ALERT.format(reason=escape(reason or "重大投诉"), lines=lines)
        for person in await self.managers():
            await self.to_staff(person, text)

    async def to_people(self, people: list[Staff], text: str) -> None:
        for person in people:
            await self.to_staff(person, text)

    # --- satisfaction callbacks -------------------------------------------------------------

    async def callback_prompt(self, job) -> Delivery:
        """Send one rating prompt (a PromptJob from services.callbacks)."""
        text = texts.CALLBACK_PROMPT.format(
            number=job.complaint.number,
            snippet=texts.snippet(job.complaint.description, 40),
            result=escape(texts.shorten(job.result_note or "已处理", 500)),
        )
        delivery = await self.sender.send_text(job.resident.chat_id, text, reply_markup=rating_keyboard(job.attempt.id))
        if delivery.forbidden:
            await self.resident_unreachable(job.resident.id)
        return delivery

    async def rating_outcome(self, answer) -> None:
        """Tell the supervisor (and the assignee) about a middling or bad rating."""
        complaint = answer.complaint
        label = texts.BTN_NOT_SOLVED if answer.rating == NOT_SOLVED else f"{answer.rating} {RATING_LABELS[answer.rating]}"
        comment = f"\n意见：{escape(answer.round.comment)}" if answer.round and answer.round.comment else ""
        async with self.sessions() as session:
            supervisor = await staff_service.supervisor_of(session, complaint.team_id)
            assignee = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
            if supervisor is None:
                managers = list(await staff_service.people_with_role(session, "manager", "admin"))
                supervisor = managers[0] if managers else None
        if answer.outcome == "review" and supervisor:
            await self.to_staff(supervisor, st.REVIEW_SUPERVISOR.format(number=complaint.number, rating=label, comment=comment))
        if answer.outcome == "reopened":
            if supervisor:
                await self.to_staff(supervisor, st.REOPENED_SUPERVISOR.format(
                    number=complaint.number, rating=label, comment=comment,
                    assignee=escape(assignee.name) if assignee else "—"))
            if assignee and (supervisor is None or assignee.id != supervisor.id):
                await self.to_staff(assignee, st.REOPENED_ASSIGNEE.format(number=complaint.number, rating=label),
                                    reply_markup=ticket_buttons(complaint))

    async def callback_comment(self, complaint: Complaint, comment: str) -> None:
        """A comment after a rating that was not "satisfied": the supervisor reads it too."""
        async with self.sessions() as session:
            supervisor = await staff_service.supervisor_of(session, complaint.team_id)
        if supervisor:
            await self.to_staff(supervisor, st.COMMENT_SUPERVISOR.format(number=complaint.number, comment=escape(comment)))

    # --- resident updates -------------------------------------------------------------------

    async def resident_accepted(self, complaint: Complaint, person: Staff) -> None:
        async with self.sessions() as session:
            team = await session.get(Team, complaint.team_id) if complaint.team_id else None
        await self.to_resident(complaint, st.ACCEPTED_RESIDENT.format(
            number=complaint.number, team=escape(team.name if team else "物业"), name=escape(person.name)))

    async def resident_note(self, complaint: Complaint, note: str) -> None:
        await self.to_resident(complaint, st.NOTE_RESIDENT.format(number=complaint.number, note=escape(note)))

    async def resident_resolved(self, complaint: Complaint, result: str) -> None:
        await self.to_resident(complaint, st.RESOLVED_RESIDENT.format(number=complaint.number, result=escape(result)))

    async def assignee_info(self, complaint: Complaint, note: str) -> bool:
        """Forward the resident's addition to the assignee; False when nobody holds the ticket yet."""
        if complaint.assignee_id is None:
            return False
        async with self.sessions() as session:
            person = await session.get(Staff, complaint.assignee_id)
        delivery = await self.to_staff(person, st.RESIDENT_INFO_STAFF.format(number=complaint.number, note=escape(note)))
        return delivery.ok


def rating_keyboard(attempt_id: int) -> InlineKeyboardMarkup:
    """1…5 (each text starts with its digit) and "not solved"."""
    def button(rating: int) -> InlineKeyboardButton:
        text = texts.BTN_NOT_SOLVED if rating == NOT_SOLVED else f"{rating} {RATING_LABELS[rating]}"
        return InlineKeyboardButton(text=text, callback_data=RatingCb(attempt=attempt_id, rating=rating).pack())

    return InlineKeyboardMarkup(inline_keyboard=[
        [button(5), button(4)], [button(3), button(2), button(1)], [button(NOT_SOLVED)]])


def phone_for(complaint: Complaint) -> str:
    """The full contact, for the assignee after accepting."""
    return contact_text(complaint, full=True) if not complaint.anonymous else "匿名（无联系方式）"


__all__ = ["Notifier", "ticket_buttons", "render_card", "phone_for", "rating_keyboard", "CATEGORIES"]
