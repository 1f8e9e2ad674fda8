"""Dependencies of the routes: a database session per request, the signed-in staff member, the
CSRF check of every form (in the full-stack-fastapi-template style: ``SessionDep``, ``CurrentUser``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Staff, WebSession
from services import web_auth

COOKIE = "huifang_session"


class NotSignedIn(Exception):
    """No valid session: the person is sent to the sign-in page."""


class Forbidden(Exception):
    """Refused (403) with a page saying why (a catalogue key)."""

    def __init__(self, key: str = "web.error.forbidden") -> None:
        super().__init__(key)
        self.key = key


def context_of(request: Request):
    return request.app.state.context


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with context_of(request).sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db)]


@dataclass
class Viewer:
    """The signed-in staff member and their session (its CSRF token goes into every form)."""

    staff: Staff
    web_session: WebSession

    @property
    def csrf(self) -> str:
        return self.web_session.csrf


async def get_viewer(request: Request, session: SessionDep) -> Viewer:
    found = await web_auth.current(session, request.cookies.get(COOKIE), now=context_of(request).clock())
    if found is None:
        raise NotSignedIn()
    staff, web_session = found
    # Detached: a refused use case rolls the session back, and the page that says so still
    # needs the viewer's name, role and CSRF token.
    session.expunge(staff)
    session.expunge(web_session)
    viewer = Viewer(staff, web_session)
    request.state.viewer = viewer
    return viewer


CurrentUser = Annotated[Viewer, Depends(get_viewer)]


async def check_csrf(request: Request, viewer: CurrentUser) -> Viewer:
    """Every state-changing request carries the session's CSRF token (form field or htmx header)."""
    submitted = request.headers.get("X-CSRF-Token")
    if not submitted:
        form = await request.form()
        submitted = form.get("csrf_token")
    if not web_auth.csrf_ok(viewer.web_session, submitted if isinstance(submitted, str) else None):
        raise Forbidden("web.error.csrf")
    return viewer


CsrfUser = Annotated[Viewer, Depends(check_csrf)]
