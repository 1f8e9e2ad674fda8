"""Rendering pages: Jinja2 templates in the viewer's language, with the bot's catalogues and labels.

Autoescaping is on: whatever residents typed is shown as text, never as HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot import texts
from bot.i18n import DEFAULT_LOCALE, LOCALES, catalogues
from services.errors import DeskError
from services.intake import mask_phone

TEMPLATES = Path(__file__).resolve().parent / "templates"

environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                          trim_blocks=True, lstrip_blocks=True)


def _text(key: str, **params: Any) -> str:
    return catalogues().text(key, **params)


def _error(error: DeskError) -> Markup:
    # The catalogue's (trusted) markup with every parameter escaped by error_text.
    return Markup(texts.error_text(error))


def _category(code: str) -> str:
    return texts.category_label(code)


def _label(prefix: str, code: str | None) -> str:
    if code is None:
        return "—"
    key = f"{prefix}.{code}"
    value = catalogues().gettext(key)
    return code if value == key else value


environment.globals.update(
    _=_text, error_text=_error, category_label=_category, severity_label=texts.severity_label,
    status_label=texts.status_label, kind_label=texts.kind_label, role_label=texts.role_label,
    rating_label=texts.rating_label, mask_phone=mask_phone, label=_label,
)


def locale_of(request: Request) -> str:
    chosen = request.cookies.get("huifang_lang")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def render(request: Request, template: str, context: dict[str, Any] | None = None) -> str:
    from web.deps import context_of

    app = context_of(request)
    values = {"request": request, "viewer": getattr(request.state, "viewer", None), "tz": app.settings.tz,
              "local_time": lambda moment: texts.local_time(moment, app.settings.tz), "now": app.clock(),
              "locale": locale_of(request)}
    values.update(context or {})
    with catalogues().use_locale(locale_of(request)):
        return environment.get_template(template).render(values)


def page(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
         headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(render(request, template, context), status_code=status_code, headers=headers)
