"""Admin: staff and one-time invite links (with a QR code), teams and their categories, trying the
classifier on a sentence, and the settings in force (read-only, no secrets)."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup

from bot.staff_cli import bot_username
from services import staff as staff_service
from services.domain import Category, Severity
from services.errors import DeskError
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, context_of
from web.pages import page

router = APIRouter(prefix="/admin")
SHOWN_SETTINGS = ("timezone", "work_hours", "callback_slots", "callback_delay", "callback_answer_timeout",
                  "callback_max_attempts", "callback_phone_fallback", "callback_major_by_phone", "invite_ttl",
                  "web_login_ttl", "web_session_ttl", "report_day", "report_time", "retention", "major_after",
                  "matter_window", "matter_residents")


def _admin(viewer) -> None:
    if viewer.staff.role != "admin":
        raise Forbidden("web.error.admin_only")


def qr_svg(text: str) -> Markup:
    """A QR code as inline SVG (generated here: nothing is fetched)."""
    import qrcode
    import qrcode.image.svg

    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    svg = buffer.getvalue().decode()
    return Markup(svg[svg.index("<svg"):])


async def _page(request: Request, session, values: dict | None = None, status_code: int = 200):
    context = context_of(request)
    teams = list(await staff_service.teams(session))
    people = list(await staff_service.list_staff(session))
    settings = [(name, getattr(context.settings, name)) for name in SHOWN_SETTINGS]
    base = {"teams": teams, "team_names": {t.id: t.name for t in teams}, "people": people,
            "roles": staff_service.ROLES, "settings_shown": settings, "try_text": "", "tried": None,
            "categories": [c.value for c in Category], "severities": [v.value for v in Severity]}
    base.update(values or {})
    return page(request, "admin.html", base, status_code=status_code)


@router.get("")
async def admin(request: Request, viewer: CurrentUser, session: SessionDep):
    _admin(viewer)
    return await _page(request, session)


@router.post("/invite")
async def invite(request: Request, viewer: CsrfUser, session: SessionDep, name: Annotated[str, Form()] = "",
                 team: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "staff"):
    """A new staff member and their one-time link to bind Telegram (as `staff invite` and /invite)."""
    _admin(viewer)
    context = context_of(request)
    try:
        username = await bot_username(context.settings)
    except Exception:  # no token or Telegram unreachable: the page says to set BOT_USERNAME
        username = None
    if not username:
        return await _page(request, session, {"invite_error": "web.admin.no_username"}, status_code=409)
    try:
        person, code = await staff_service.create_invite(session, name=name, team_code=team or None, role=role,
                                                         ttl=context.settings.invite_ttl, now=context.clock())
    except DeskError as error:
        return await _page(request, session, {"error": error}, status_code=409)
    link = f"https://t.me/{username}?start={code}"
    return await _page(request, session, {"invited": person, "link": link, "qr": qr_svg(link)})


@router.post("/try")
async def try_sentence(request: Request, viewer: CsrfUser, session: SessionDep, text: Annotated[str, Form()] = ""):
    """The classifier on one sentence: category, kind, severity and the keywords behind them."""
    _admin(viewer)
    tried = context_of(request).classifier.classify(text) if text.strip() else None
    return await _page(request, session, {"try_text": text, "tried": tried})
