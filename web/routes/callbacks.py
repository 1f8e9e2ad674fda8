"""Callbacks (回访) that need a person: the queue, and recording each call (the 回访记录)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services import desk
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, context_of
from web.routes.tickets import visible
from web.pages import page

router = APIRouter(prefix="/callbacks")
QUEUE_PAGE = 50  # the longest-waiting first; the rest after these are recorded


def _allowed(viewer) -> None:
    if not desk.may_call_back(viewer.staff):
        raise Forbidden("web.error.desk_only")


@router.get("")
async def queue(request: Request, viewer: CurrentUser, session: SessionDep):
    _allowed(viewer)
    context = context_of(request)
    items = await desk.call_queue(session, policy=context.callback_policy, now=context.clock(),
                                  fallback=context.settings.callback_phone_fallback, viewer=viewer.staff,
                                  limit=QUEUE_PAGE + 1)
    return page(request, "callbacks.html", {"items": items[:QUEUE_PAGE], "more": max(0, len(items) - QUEUE_PAGE),
                                            "methods": desk.METHODS,
                                            "max_attempts": context.callback_policy.max_attempts})


@router.post("/{number}")
async def record(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                 result: Annotated[str, Form()] = "", method: Annotated[str, Form()] = "phone",
                 comment: Annotated[str, Form()] = ""):
    """``result``: ``none`` (not reached), ``0`` (reached, not solved) or a rating ``1``…``5``."""
    _allowed(viewer)
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    reached = result != "none"
    rating = int(result) if result.isdigit() else None
    if reached and rating is None:
        rating = -1  # refused by the use case as an invalid rating
    await desk.record_call(session, complaint.id, viewer.staff, reached=reached, rating=rating, method=method,
                           comment=comment, policy=context.callback_policy, now=context.clock(),
                           fallback=context.settings.callback_phone_fallback, sla=context.sla)
    return RedirectResponse("/callbacks", status_code=303)
