"""Admin: staff and one-time invite links (with a QR code), teams and their categories, the
classifier's lexicon (view and edit one category at a time, validated, in use at once), trying the
classifier on a sentence, and the settings in force (read-only, no secrets)."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup

from bot.staff_cli import bot_username
from services import lexicon_edit
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


@router.post("/teams")
async def save_team(request: Request, viewer: CsrfUser, session: SessionDep, code: Annotated[str, Form()] = "",
                    name: Annotated[str, Form()] = "", categories: Annotated[list[str], Form()] = []):
    """Create a team or change its name and categories (a category moves from the team that had it)."""
    _admin(viewer)
    try:
        team = await staff_service.set_team(session, code.strip(), name=name.strip() or None, categories=categories)
    except DeskError as error:
        return await _page(request, session, {"error": error}, status_code=422)
    return await _page(request, session, {"team_saved": team})


def _lexicon_page(request: Request, target: lexicon_edit.Target | None, tables: str | None = None,
                  values: dict | None = None, status_code: int = 200):
    context = context_of(request)
    configured = context.settings.lexicon_path
    path = lexicon_edit.lexicon_path(configured)
    choices = lexicon_edit.targets(context.classifier.lexicon)
    target = target or (choices[0] if choices else None)
    if tables is None and target is not None:
        tables = lexicon_edit.tables_of(path.read_text(encoding="utf-8"), target)
    labels = context.classifier.lexicon.labels
    base = {"choices": choices, "target": target, "tables": tables or "", "lexicon_file": path,
            "save_file": lexicon_edit.save_path(configured), "target_label": labels.label if labels else str,
            "try_text": "", "tried": None}
    base.update(values or {})
    return page(request, "admin_lexicon.html", base, status_code=status_code)


@router.get("/lexicon")
async def lexicon(request: Request, viewer: CurrentUser, target: str = ""):
    """One category's (or kind's, severity's …) keyword tables, as written in the lexicon."""
    _admin(viewer)
    return _lexicon_page(request, lexicon_edit.Target.parse(target) if target else None)


@router.post("/lexicon")
async def save_lexicon(request: Request, viewer: CsrfUser, target: Annotated[str, Form()] = "",
                       tables: Annotated[str, Form()] = "", try_text: Annotated[str, Form()] = ""):
    """Validate and save one target's tables; the classifier uses them from the next message on."""
    _admin(viewer)
    chosen = lexicon_edit.Target.parse(target)
    context = context_of(request)
    try:
        lexicon = lexicon_edit.edit(context.settings.lexicon_path, chosen, tables)
    except DeskError as error:
        return _lexicon_page(request, chosen, tables, {"error": error}, status_code=422)
    except OSError as error:  # a read-only LEXICON_PATH, a full disk
        return _lexicon_page(request, chosen, tables, {"error": DeskError("lexicon_invalid", detail=str(error))},
                             status_code=422)
    context.classifier.use_lexicon(lexicon)
    tried = context.classifier.classify(try_text) if try_text.strip() else None
    return _lexicon_page(request, chosen, None, {"saved": True, "try_text": try_text, "tried": tried})


@router.post("/try")
async def try_sentence(request: Request, viewer: CsrfUser, session: SessionDep, text: Annotated[str, Form()] = ""):
    """The classifier on one sentence: category, kind, severity and the keywords behind them."""
    _admin(viewer)
    tried = context_of(request).classifier.classify(text) if text.strip() else None
    return await _page(request, session, {"try_text": text, "tried": tried})
