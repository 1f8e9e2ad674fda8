"""Rendering of the notices of major-complaint ownership, early warnings and the report review
(catalogue ``majors.po``)."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.buttons import ReviewCb
from bot.i18n import _
from bot.texts import local_time, status_label
from models.tables import Complaint, EarlyWarning, Staff
from services import majors
from services.notices import NoticeKind

KINDS = (NoticeKind.MAJOR_OWNER, NoticeKind.MAJOR_REPLY, NoticeKind.MAJOR_REPLY_OVERDUE,
         NoticeKind.MAJOR_RESOLVE_OVERDUE, NoticeKind.EARLY_WARNING, NoticeKind.REPORT_DRAFT)


def review_buttons(month: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("majors.btn_approve"), callback_data=ReviewCb(action="ap", month=month).pack()),
        InlineKeyboardButton(text=_("majors.btn_summary"), callback_data=ReviewCb(action="sm", month=month).pack()),
    ]])


async def owner_name(session: AsyncSession, c: Complaint) -> str:
    owner = await session.get(Staff, c.major_owner_id) if c.major_owner_id else None
    return escape(owner.name) if owner else _("majors.no_owner")


async def fill(renderer, session: AsyncSession, kind: NoticeKind, params: dict, c: Complaint | None, out) -> None:
    tz = renderer.settings.tz
    text = out.texts.append
    if kind is NoticeKind.MAJOR_OWNER:
        group = await majors.linked(session, c)
        text((_("majors.owner", number=c.number, reply_by=local_time(c.major_reply_by, tz),
                resolve_by=local_time(c.major_resolve_by, tz), numbers=", ".join(g.number for g in group)), None))
    elif kind is NoticeKind.MAJOR_REPLY:
        text((_("majors.reply_resident", number=c.number, note=escape(params["note"])), None))
    elif kind is NoticeKind.MAJOR_REPLY_OVERDUE:
        text((_("majors.reply_overdue", number=c.number, deadline=local_time(c.major_reply_by, tz),
                owner=await owner_name(session, c)), None))
    elif kind is NoticeKind.MAJOR_RESOLVE_OVERDUE:
        text((_("majors.resolve_overdue", number=c.number, deadline=local_time(c.major_resolve_by, tz),
                owner=await owner_name(session, c), status=status_label(c.status)), None))
    elif kind is NoticeKind.EARLY_WARNING:
        warning = await session.get(EarlyWarning, params["warning"])
        author = await session.get(Staff, warning.author_id)
        text((_("majors.warning_staff", author=escape(author.name if author else "—"),
                matter=escape(warning.matter), advice=escape(warning.advice), notified=escape(warning.notified)),
              None))
    elif kind is NoticeKind.REPORT_DRAFT:
        month = params["month"]
        await renderer._monthly_report(session, month, out)
        out.texts[:] = [(_("majors.report_draft", month=month), review_buttons(month))]
