"""Presentation: notices and tickets rendered as Telegram messages in the recipient's language.

Use cases return notices (``services.notices``); the delivery worker asks :class:`Renderer` for
the messages of one stored notice. Handlers use the same card and keyboards for the person
acting. Everything here reads the current locale (``bot.i18n``); the caller picks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from html import escape
from pathlib import Path

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import render_majors
from bot.buttons import RatingCb, StaffCb
from bot import render_procedure
from bot.i18n import DEFAULT_LOCALE, LOCALES, _, locale_for
from bot.settings import Settings
from bot.texts import (category_label, contact_line, duration, in_script, joined, kind_label, local_time, rating_label,
                       severity_label, shorten, snippet, status_label, team_label)
from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, OutboxNotice, Resident, Staff, Team
from services import matters
from services.staff import TEAMS
from services.domain import Category, Status
from services.notices import Audience, NoticeKind
from services.satisfaction import NOT_SOLVED, RATINGS

log = logging.getLogger(__name__)
CATEGORIES = [c.value for c in Category]
OPEN = (Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED)


@dataclass
class Rendered:
    """What to send for one notice: texts (each with optional buttons), then photos, then files."""

    chat_id: int
    locale: str
    texts: list[tuple[str, InlineKeyboardMarkup | None]] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)
    photo_caption: str | None = None
    documents: list[tuple[Path, str | None]] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)


def person_locale(resident: Resident | None) -> str:
    """The language a person reads: the one chosen with /lang, else Telegram's."""
    if resident is None:
        return DEFAULT_LOCALE
    return _chosen_or_telegram(resident.locale, resident.language_code)


def _chosen_or_telegram(chosen: str | None, language_code: str | None) -> str:
    return chosen if chosen in LOCALES else locale_for(language_code)


# A staff notice's recipient and the language of their Telegram account, in one statement.
_STAFF_WITH_LOCALE = (
    select(Staff, Resident.id, Resident.locale, Resident.language_code)
    .outerjoin(Resident, Resident.telegram_id == Staff.telegram_id)
    .where(Staff.id == bindparam("staff_id"))
)


# … and the ticket a notice is about, in the same statement (a staff notice's usual two reads).
_STAFF_WITH_LOCALE_AND_TICKET = _STAFF_WITH_LOCALE.add_columns(Complaint).outerjoin(
    Complaint, Complaint.id == bindparam("complaint_id"))

# A resident's notice: the resident and the ticket it is about, in one statement.
_RESIDENT_AND_TICKET = (
    select(Resident, Complaint)
    .outerjoin(Complaint, Complaint.id == bindparam("complaint_id"))
    .where(Resident.id == bindparam("resident_id"))
)


async def resident_and_ticket(session: AsyncSession, resident_id: int,
                              complaint_id: int) -> tuple[Resident | None, Complaint | None]:
    """The resident and the ticket (None if there is no such ticket), in one query; no ticket
    either when there is no such resident (nobody to tell)."""
    found = (await session.exec(_RESIDENT_AND_TICKET,
                                params={"resident_id": resident_id, "complaint_id": complaint_id})).first()
    return (None, None) if found is None else (found[0], found[1])


async def staff_and_locale(session: AsyncSession, staff_id: int) -> tuple[Staff | None, str]:
    """The member of staff and the language they read: their own Telegram account's (its Resident
    row, as :func:`person_locale` reads it), in one query."""
    found = (await session.exec(_STAFF_WITH_LOCALE, params={"staff_id": staff_id})).first()
    if found is None:
        return None, DEFAULT_LOCALE
    return found[0], _staff_locale(*found[1:])


async def staff_locale_and_ticket(session: AsyncSession, staff_id: int,
                                  complaint_id: int) -> tuple[Staff | None, str, Complaint | None]:
    """:func:`staff_and_locale` and the ticket (None if there is no such ticket), in one query;
    no ticket either when there is no such member of staff (nobody to tell)."""
    found = (await session.exec(_STAFF_WITH_LOCALE_AND_TICKET,
                                params={"staff_id": staff_id, "complaint_id": complaint_id})).first()
    if found is None:
        return None, DEFAULT_LOCALE, None
    return found[0], _staff_locale(*found[1:4]), found[4]


def _staff_locale(resident_id: int | None, chosen: str | None, language_code: str | None) -> str:
    if resident_id is None:  # never wrote to the bot, or not bound (no Telegram id joins nothing)
        return DEFAULT_LOCALE
    return _chosen_or_telegram(chosen, language_code)


# --- tickets for staff -------------------------------------------------------------------------


def ticket_buttons(complaint: Complaint) -> InlineKeyboardMarkup | None:
    """Buttons that fit the ticket's status."""
    def button(key: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=_(key), callback_data=StaffCb(action=action, ticket=complaint.id).pack())

    status = Status(complaint.status)
    close_call = []
    if complaint.uncertain and complaint.runner_up in CATEGORIES and status in OPEN:
        close_call = [[InlineKeyboardButton(text=_("staff.btn_keep_category", category=category_label(complaint.category)),
                                            callback_data=StaffCb(action="okc", ticket=complaint.id).pack()),
                       InlineKeyboardButton(text=_("staff.btn_runner_up", category=category_label(complaint.runner_up)),
                                            callback_data=StaffCb(action="setc", ticket=complaint.id,
                                                                  arg=str(CATEGORIES.index(complaint.runner_up))).pack())]]
    if status in (Status.NEW, Status.ASSIGNED, Status.REOPENED):
        rows = [[button("staff.btn_accept", "acc")],
                [button("staff.btn_transfer", "tr"), button("staff.btn_category", "cat"),
                 button("staff.btn_severity", "sev")]]
    elif status is Status.ACCEPTED:
        paused = bool(complaint.pauses) and complaint.pauses[-1][1] is None
        rows = [[button("staff.btn_resolve", "res")],
                [button("staff.btn_transfer", "tr"), button("staff.btn_category", "cat"),
                 button("staff.btn_severity", "sev")],
                [button("staff.btn_sensitive_off" if complaint.sensitive else "staff.btn_sensitive", "sens"),
                 button("staff.btn_resume" if paused else "staff.btn_pause", "wait")]]
    else:
        return None
    if status in OPEN and complaint.severity in ("urgent", "important") and complaint.plan_status in (None, "returned"):
        rows.append([button("proc.btn_plan", "pln")])  # 处理方案 of a Ⅰ/Ⅱ ticket (services.procedure)
    return InlineKeyboardMarkup(inline_keyboard=close_call + rows)


def contact_text(complaint: Complaint, *, full: bool) -> str:
    return contact_line(anonymous=complaint.anonymous, name=complaint.contact_name, phone=complaint.contact_phone,
                        masked=not full)


def phone_for(complaint: Complaint) -> str:
    """The full contact, for the assignee after accepting."""
    return contact_text(complaint, full=True) if not complaint.anonymous else _("contact.anonymous_none")


def keywords_reason(complaint: Complaint) -> str:
    """The category keywords that decided the ticket, for staff."""
    target = f"category:{complaint.category}"
    terms: list[str] = []
    by_model = False
    for hit in complaint.keywords:
        if hit.get("target") == target and hit["term"] not in terms:
            terms.append(hit["term"])
            by_model = by_model or hit.get("source") == "model"
    if not terms:
        return _("staff.keywords_none")
    return _("staff.keywords_model" if by_model else "staff.keywords", terms=escape(in_script(joined(terms[:6]))))


async def ticket_card(session: AsyncSession, complaint: Complaint, settings: Settings, *, header: str,
                      full_phone: bool) -> str:
    """The ticket as staff see it (``header`` already rendered)."""
    assignee = await session.get(Staff, complaint.assignee_id) if complaint.assignee_id else None
    team = await TEAMS.team(session, complaint.team_id) if complaint.team_id else None  # the kept team table
    who = _("staff.card_holder", team=team_label(team),
            assignee=escape(" · " + assignee.name) if assignee else "") if team else ""
    photos = len(complaint.photos)
    category = category_label(complaint.category)
    if complaint.uncertain and complaint.runner_up:
        category = _("staff.close_call", first=category, second=category_label(complaint.runner_up))
    card = _("staff.card",
             header=header, number=complaint.number, category=category,
             kind=kind_label(complaint.kind), severity=severity_label(complaint.severity),
             reason=keywords_reason(complaint), status=status_label(complaint.status), assignee=who,
             respond_by=local_time(complaint.respond_by, settings.tz),
             resolve_by=local_time(complaint.resolve_by, settings.tz),
             location=escape(complaint.location), description=escape(shorten(complaint.description, 1500)),
             contact=contact_text(complaint, full=full_phone),
             photos=_("staff.card_photos", count=photos) if photos else "")
    if complaint.plan_by is not None and Status(complaint.status) in OPEN:  # 处理方案 of a Ⅰ/Ⅱ ticket
        card += "\n" + _("proc.card_plan", deadline=local_time(complaint.plan_by, settings.tz),
                         status=_(f"web.proc.plan_status.{complaint.plan_status or 'missing'}"))
    return card


def rating_keyboard(attempt_id: int) -> InlineKeyboardMarkup:
    """1…5 (each text starts with its digit) and "not solved"."""
    def button(rating: int) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=rating_label(rating),
                                    callback_data=RatingCb(attempt=attempt_id, rating=rating).pack())

    return InlineKeyboardMarkup(inline_keyboard=[
        [button(5), button(4)], [button(3), button(2), button(1)], [button(NOT_SOLVED)]])


def major_reason_text(stored: str | dict | None) -> str:
    reason = stored if isinstance(stored, dict) else matters.decode_reason(stored)
    parts = [_(f"major.flag.{flag}") for flag in reason.get("flags", [])]
    if "residents" in reason:
        parts.append(_("major.matter", residents=reason["residents"], days=reason.get("days", 30)))
    if "age_days" in reason:
        parts.append(_("major.age", days=reason["age_days"]) if reason["age_days"] else _("major.age_overdue"))
    if "text" in reason:
        parts.append(escape(str(reason["text"])))
    return joined(parts) if parts else _("major.default")


def callback_when(expect: dict) -> str:
    """"明天上午" / "tomorrow morning": the day (today, tomorrow, the day after, else the date) and the
    part of the day the first callback prompt is planned for."""
    days = expect.get("days", 1)
    if days in (0, 1, 2):
        day = _(f"callback_day.{days}")
    else:
        moment = date.fromisoformat(expect["date"])
        day = _("callback_day.date", month=moment.month, day=moment.day)
    return _("callback_when", day=day, part=_(f"callback_part.{expect.get('part', 'morning')}"))


# --- notices -----------------------------------------------------------------------------------


class Renderer:
    """One stored notice → the messages to send, in the recipient's language."""

    def __init__(self, settings: Settings, catalogues) -> None:
        self.settings = settings
        self.catalogues = catalogues

    async def recipient(self, session: AsyncSession,
                        row: OutboxNotice) -> tuple[int | None, str, object, Complaint | None]:
        """(chat id, locale, the Resident or Staff row, the ticket) of a notice; the recipient and
        the ticket are read in one statement."""
        if row.audience == Audience.RESIDENT.value:
            if row.complaint_id:
                resident, complaint = await resident_and_ticket(session, row.recipient_id, row.complaint_id)
            else:
                resident, complaint = await session.get(Resident, row.recipient_id), None
            return (resident.chat_id if resident else None), person_locale(resident), resident, complaint
        if row.complaint_id:
            person, locale, complaint = await staff_locale_and_ticket(session, row.recipient_id, row.complaint_id)
        else:
            (person, locale), complaint = await staff_and_locale(session, row.recipient_id), None
        if person is None or not person.active:
            return None, DEFAULT_LOCALE, person, None
        return person.chat_id, locale, person, complaint

    async def render(self, session: AsyncSession, row: OutboxNotice) -> Rendered | None:
        """None when there is nobody (left) to send it to."""
        chat_id, locale, _person, complaint = await self.recipient(session, row)
        if chat_id is None:
            return None
        out = Rendered(chat_id=chat_id, locale=locale)
        with self.catalogues.use_locale(locale):
            await self._fill(session, NoticeKind(row.kind), row.params, complaint, out)
        return out

    async def _fill(self, session: AsyncSession, kind: NoticeKind, params: dict, c: Complaint | None,
                    out: Rendered) -> None:
        tz = self.settings.tz
        text = out.texts.append
        if kind in (NoticeKind.ASSIGNED, NoticeKind.SUPERVISOR_WATCH, NoticeKind.QUEUE):
            if kind is NoticeKind.ASSIGNED:
                header, buttons = _(f"staff.ping_header.{params.get('header', 'assign')}"), ticket_buttons(c)
            elif kind is NoticeKind.SUPERVISOR_WATCH:
                header, buttons = _("staff.ping_header.supervisor", why=_(f"staff.why.{params.get('why')}")), None
            else:
                header, buttons = _("staff.ping_header.queue"), ticket_buttons(c)
            text((await ticket_card(session, c, self.settings, header=header, full_phone=False), buttons))
            if kind is NoticeKind.ASSIGNED and c.photos:
                out.photos = list(c.photos)
                out.photo_caption = _("staff.photos_caption", number=c.number)
        elif kind is NoticeKind.TRANSFERRED_AWAY:
            who = (f" · {params['assignee']}" if params.get("assignee") else _("staff.awaiting_supervisor"))
            team = await session.get(Team, c.team_id) if c.team_id else None
            text((_("staff.transferred_away", number=c.number, by=escape(params["by"]), team=team_label(team),
                    who=escape(who)), None))
        elif kind is NoticeKind.RESIDENT_INFO:
            text((_("staff.resident_info_staff", number=c.number, note=escape(params["note"])), None))
        elif kind is NoticeKind.STAFF_UNREACHABLE:
            text((_("staff.unreachable_supervisor", name=escape(params["name"])), None))
        elif kind in (NoticeKind.RATING_REVIEW, NoticeKind.REOPENED_SUPERVISOR, NoticeKind.REOPENED_ASSIGNEE):
            rating = rating_label(params["rating"])
            round_ = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == c.id)
                                         .order_by(col(CallbackRound.id).desc()).limit(1))).first()
            comment = (_("staff.comment_line", comment=escape(round_.comment))
                       if round_ is not None and round_.comment else "")
            if kind is NoticeKind.RATING_REVIEW:
                review = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                    text=_("staff.btn_reviewed"), callback_data=StaffCb(action="rvw", ticket=c.id).pack())]])
                text((_("staff.review_supervisor", number=c.number, rating=rating, comment=comment),
                      review if c.needs_review else None))
            elif kind is NoticeKind.REOPENED_SUPERVISOR:
                assignee = await session.get(Staff, c.assignee_id) if c.assignee_id else None
                text((_("staff.reopened_supervisor", number=c.number, rating=rating, comment=comment,
                        assignee=escape(assignee.name) if assignee else "—"), None))
            else:
                text((_("staff.reopened_assignee", number=c.number, rating=rating,
                        respond_by=local_time(c.respond_by, tz), resolve_by=local_time(c.resolve_by, tz)),
                      ticket_buttons(c)))
        elif kind is NoticeKind.CALLBACK_COMMENT:
            text((_("staff.comment_supervisor", number=c.number, comment=escape(params["comment"])), None))
        elif kind is NoticeKind.MAJOR_ALERT:
            ids = params.get("ids") or [c.id]
            first = await session.get(Complaint, ids[0])
            group = [first, *await matters.related(session, first)]
            lines = "\n".join(_("staff.major_line", number=g.number, category=category_label(g.category),
                                location=escape(g.location), status=status_label(g.status),
                                snippet=snippet(g.description, 30)) for g in group)
            text((_("staff.major_alert", reason=major_reason_text(first.major_reason), lines=lines), None))
        elif kind in (NoticeKind.RESPONSE_OVERDUE, NoticeKind.RESOLVE_OVERDUE):
            assignee = await session.get(Staff, c.assignee_id) if c.assignee_id else None
            key = "staff.response_overdue" if kind is NoticeKind.RESPONSE_OVERDUE else "staff.resolve_overdue"
            deadline = c.respond_by if kind is NoticeKind.RESPONSE_OVERDUE else c.resolve_by
            text((_(key, number=c.number, severity=severity_label(c.severity), deadline=local_time(deadline, tz),
                    assignee=escape(assignee.name) if assignee else _("staff.unassigned")), None))
        elif kind is NoticeKind.RESPONSE_OVERDUE_MANAGER:
            team = await session.get(Team, c.team_id) if c.team_id else None
            text((_("staff.response_overdue_manager", number=c.number, severity=severity_label(c.severity),
                    deadline=local_time(c.respond_by, tz), team=team_label(team)), None))
        elif kind is NoticeKind.RESOLVE_REMINDER:
            text((_("staff.resolve_reminder", number=c.number, deadline=local_time(c.resolve_by, tz)), None))
        elif kind is NoticeKind.PROGRESS_NUDGE:
            text((_("staff.progress_nudge", number=c.number, period=duration(params.get("period", 0))), None))
        elif kind is NoticeKind.PROGRESS:
            text((_("staff.progress_resident", number=c.number), None))
        elif kind is NoticeKind.ACCEPTED:
            person = await session.get(Staff, params.get("staff")) if params.get("staff") else None
            team = await session.get(Team, c.team_id) if c.team_id else None
            text((_("staff.accepted_resident", number=c.number,
                    team=team_label(team) if team else _("staff.property_office"),
                    name=escape(person.name) if person else "—"), None))
        elif kind is NoticeKind.NOTE:
            text((_("staff.note_resident", number=c.number, note=escape(params["note"])), None))
        elif kind is NoticeKind.RESOLVED:
            message = _("staff.resolved_resident", number=c.number, result=escape(params["result"]))
            if params.get("callback"):
                message += "\n\n" + _("callback_expect", when=callback_when(params["callback"]))
            text((message, None))
        elif kind is NoticeKind.CLOSED_BY_HAND:
            text((_("closed_by_hand_resident", number=c.number, reason=_(f"close_reason.{params['reason']}"),
                    note=escape(params["note"])), None))
        elif kind is NoticeKind.INVALID:
            text((_("invalid_resident", number=c.number, reason=_(f"invalid_reason.{params['reason']}"),
                    note=escape(params["note"])), None))
        elif kind is NoticeKind.CLOSED_BY_HAND_STAFF:
            text((_("staff.closed_by_hand_staff", number=c.number, by=escape(params["by"]),
                    reason=_(f"close_reason.{params['reason']}")), None))
        elif kind is NoticeKind.INVALID_STAFF:
            text((_("staff.invalid_staff", number=c.number, by=escape(params["by"]),
                    reason=_(f"invalid_reason.{params['reason']}")), None))
        elif kind is NoticeKind.COMPLEX:
            text((_("complex_resident", number=c.number, days=params.get("days") or "—",
                    resolve_by=local_time(c.resolve_by, tz)), None))
        elif kind is NoticeKind.CALLBACK_PROMPT:
            attempt = await session.get(CallbackAttempt, params["attempt"])
            result = (await session.exec(select(ComplaintEvent.note).where(
                ComplaintEvent.complaint_id == c.id, ComplaintEvent.action == "resolve")
                .order_by(col(ComplaintEvent.id).desc()).limit(1))).first()
            text((_("callback_prompt", number=c.number, snippet=snippet(c.description, 40),
                    result=escape(shorten(result or _("callback_result_default"), 500))),
                  rating_keyboard(attempt.id)))
        elif kind is NoticeKind.CLOSE_HELD:
            newer = await session.get(Complaint, params.get("newer")) if params.get("newer") else None
            text((_("staff.close_held", number=c.number, rule=_(f"staff.close_rule.{params.get('reason', 'no_callback')}"),
                    newer=newer.number if newer else "—", location=escape(newer.location if newer else c.location)),
                  None))
        elif kind in render_majors.KINDS:
            await render_majors.fill(self, session, kind, params, c, out)
        elif kind is NoticeKind.MONTHLY_REPORT:
            await self._monthly_report(session, params["month"], out)
        elif kind in (NoticeKind.PLAN_SUBMITTED, NoticeKind.PLAN_APPROVED, NoticeKind.PLAN_RETURNED,
                      NoticeKind.PLAN_OVERDUE, NoticeKind.PLAN_OVERDUE_MANAGER, NoticeKind.ACTION_ASSIGNED,
                      NoticeKind.ACTION_REMINDER, NoticeKind.ACTION_OVERDUE):
            await render_procedure.fill(session, kind, params, c, text, tz)  # cause, plans, corrective actions
        else:  # pragma: no cover - every kind above; a new kind must be added here
            raise ValueError(f"no rendering for notice kind {kind}")

    async def _monthly_report(self, session: AsyncSession, month: str, out: Rendered) -> None:
        import tempfile

        from services import report as report_service

        folder = Path(tempfile.mkdtemp(prefix="huifang-monthly-"))
        files = await report_service.build_report(session, month=month, tz=self.settings.tz,
                                                  out=folder / f"report-{month}.xlsx", text=_,
                                                  list_rows=self.settings.report_list_rows)
        out.texts.append((_("staff.report_monthly", month=month), None))
        out.documents.append((files.xlsx, _("staff.report_caption", month=month)))
        out.charts = list(files.charts)


__all__ = ["Renderer", "Rendered", "ticket_buttons", "ticket_card", "phone_for", "rating_keyboard", "CATEGORIES",
           "RATINGS", "person_locale", "staff_and_locale", "staff_locale_and_ticket", "major_reason_text",
           "contact_text"]
