"""投诉预警 (early warnings): managers record a matter that may become major — what residents are
to be told and who was told — and read the latest ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services import majors
from services import staff as staff_service
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, context_of
from web.pages import page

router = APIRouter(prefix="/warnings")


def _manager(viewer) -> None:
    if not majors.may_own(viewer.staff):
        raise Forbidden("majors.web.managers_only")


@router.get("")
async def warnings(request: Request, viewer: CurrentUser, session: SessionDep):
    _manager(viewer)
    rows = await majors.warnings(session)
    people = {s.id: s.name for s in await staff_service.list_staff(session, include_removed=True)}
    return page(request, "warnings.html", {"rows": rows, "people": people,
                                           "saved": bool(request.query_params.get("saved"))})


@router.post("")
async def write(request: Request, viewer: CsrfUser, session: SessionDep, matter: Annotated[str, Form()] = "",
                advice: Annotated[str, Form()] = "", notified: Annotated[str, Form()] = "",
                numbers: Annotated[str, Form()] = ""):
    _manager(viewer)
    await majors.write_warning(session, viewer.staff, matter=matter, advice=advice, notified=notified,
                               numbers=numbers.replace(",", " ").split(), now=context_of(request).clock())
    return RedirectResponse("/warnings?saved=1", status_code=303)
