"""Signing in by a one-time link, signing out, the language of the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from bot.i18n import LOCALES
from services import web_auth
from services.errors import DeskError
from web.deps import COOKIE, CsrfUser, SessionDep, context_of
from web.pages import page

router = APIRouter()


@router.get("/login")
async def login_help(request: Request):
    """Without a link: how to get one (send /web to the bot)."""
    return page(request, "login.html", {"token": None})


@router.get("/login/{token}")
async def login_page(request: Request, token: str):
    """The link shows a button; only pressing it uses the link (link previews must not)."""
    return page(request, "login.html", {"token": token})


@router.post("/login/{token}")
async def login(request: Request, token: str, session: SessionDep):
    context = context_of(request)
    try:
        opened = await web_auth.redeem_login_link(session, token, now=context.clock(),
                                                  ttl=context.settings.web_session_ttl)
    except DeskError as error:
        return page(request, "login.html", {"token": None, "error": error}, status_code=403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, opened.token, max_age=int(context.settings.web_session_ttl.total_seconds()),
                        httponly=True, samesite="lax", secure=context.secure_cookies, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: CsrfUser, session: SessionDep):
    await web_auth.end_session(session, viewer.web_session, now=context_of(request).clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/lang")
async def language(request: Request, viewer: CsrfUser, locale: Annotated[str, Form()],
                   back: Annotated[str, Form()] = "/"):
    response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", status_code=303)
    if locale in LOCALES:
        response.set_cookie("huifang_lang", locale, max_age=365 * 86400, samesite="lax", path="/")
    return response
