"""Registering a complaint for a resident (代客登记): any channel, the classifier's suggestion live."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from services import desk
from services.domain import Category, Severity
from services.errors import DeskError
from services.media import MediaStore
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, context_of
from web.pages import page

router = APIRouter(prefix="/register")


def _allowed(viewer) -> None:
    if not desk.may_register(viewer.staff):
        raise Forbidden("web.error.desk_only")


@router.get("")
async def form(request: Request, viewer: CurrentUser):
    _allowed(viewer)
    return page(request, "register.html", {"channels": desk.CHANNELS, "form": {"channel": "phone"},
                                           "photos_max": context_of(request).settings.intake.photos_max,
                                           "draft": uuid.uuid4().hex})


@router.post("/suggest")
async def suggest(request: Request, viewer: CsrfUser, description: Annotated[str, Form()] = ""):
    """The classifier's category, kind and severity with their keywords, as the agent types."""
    _allowed(viewer)
    text = description.strip()
    result = context_of(request).classifier.classify(text) if text else None
    return page(request, "_suggestion.html", {"s": result, "categories": [c.value for c in Category],
                                              "severities": [v.value for v in Severity]})


async def _keep_photos(settings, uploads: list[UploadFile]) -> tuple[str, ...]:
    """The photos chosen in the form, checked and kept (a browser sends an empty part for none)."""
    chosen = [upload for upload in uploads if upload.filename]
    limit = settings.intake.photos_max
    if len(chosen) > limit:
        raise DeskError("photos_too_many", limit=limit)
    store, kept = MediaStore(settings.media_dir), []
    most = settings.intake.photo_bytes_max
    for upload in chosen:
        data = await upload.read(most + 1)
        kept.append(store.save(data, max_bytes=most))
    return tuple(kept)


@router.post("")
async def submit(request: Request, viewer: CsrfUser, session: SessionDep,
                 channel: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                 phone: Annotated[str, Form()] = "", location: Annotated[str, Form()] = "",
                 description: Annotated[str, Form()] = "", request_text: Annotated[str, Form()] = "",
                 category: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "",
                 draft: Annotated[str, Form()] = "", photos: Annotated[list[UploadFile], File()] = []):
    _allowed(viewer)
    context = context_of(request)
    entered = desk.Registration(channel=channel, name=name, phone=phone, location=location,
                                description=description, request=request_text, category=category,
                                severity=severity)
    try:
        desk.check_registration(entered, description_max=context.settings.intake.description_max)  # before keeping
        entered = replace(entered, photos=await _keep_photos(context.settings, photos))
        filing = await desk.register(
            session, viewer.staff, entered, classifier=context.classifier, tz=context.settings.tz, sla=context.sla,
            rules=context.matter_rules, now=context.clock(), draft_key=f"desk:{draft}" if draft else None,
            description_max=context.settings.intake.description_max)
    except DeskError as error:
        return page(request, "register.html", {"channels": desk.CHANNELS, "form": entered.__dict__, "error": error,
                                                "photos_max": context.settings.intake.photos_max,
                                                "draft": draft or uuid.uuid4().hex},
                    status_code=422)
    return RedirectResponse(f"/tickets/{filing.complaint.number}?registered=1", status_code=303)
