"""/api/v1: how an app, a WeChat account or the hotline system hands complaints to the same desk.

JSON, described at /docs (OpenAPI). Every call carries an integration's key (``Authorization:
Bearer hf_…`` or ``X-API-Key``), created with ``python -m bot apikey create NAME``; a missing,
unknown or revoked key gets 401 and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from models.tables import ApiKey, Complaint
from services import api_keys, desk, handling, lifecycle
from services.errors import DeskError
from web.deps import SessionDep, context_of

router = APIRouter(prefix="/api/v1", tags=["api"])


async def get_integration(request: Request, session: SessionDep) -> ApiKey:
    header = request.headers.get("Authorization", "")
    raw = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else request.headers.get("X-API-Key")
    found = await api_keys.authenticate(session, raw, now=context_of(request).clock())
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing, unknown or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


Integration = Annotated[ApiKey, Depends(get_integration)]


class ComplaintIn(BaseModel):
    """A complaint received by another channel."""

    channel: str = Field(description="one of: " + ", ".join(desk.CHANNELS))
    name: str = Field(description="the resident's name", max_length=64)
    phone: str = Field(description="mainland mobile or landline", max_length=32)
    location: str = Field(description="building / unit / room or a place in the compound", max_length=200)
    description: str = Field(max_length=2000)
    request: str = Field(default="", description="what the resident asks for", max_length=500)
    reference: str | None = Field(default=None, max_length=40,
                                  description="the sender's own id: the same reference twice files once")


class ComplaintOut(BaseModel):
    number: str
    status: str
    channel: str
    category: str
    kind: str
    severity: str
    created_at: datetime
    respond_by: datetime | None
    resolve_by: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, complaint: Complaint) -> ComplaintOut:
        return cls(**{name: getattr(complaint, name) for name in cls.model_fields})


class FiledOut(ComplaintOut):
    merged: bool = Field(description="true: the same resident's open ticket on the same matter got it")


class ComplaintList(BaseModel):
    total: int
    items: list[ComplaintOut]


def _refused(error: DeskError) -> HTTPException:
    return HTTPException(422, detail={"code": error.code, **error.params})


@router.post("/complaints", status_code=status.HTTP_201_CREATED, response_model=FiledOut)
async def create_complaint(request: Request, body: ComplaintIn, integration: Integration, session: SessionDep):
    """File a complaint: the same numbering, routing, pings and SLA as one filed in Telegram."""
    context = context_of(request)
    form = desk.Registration(channel=body.channel, name=body.name, phone=body.phone, location=body.location,
                             description=body.description, request=body.request)
    draft = f"api:{integration.id}:{body.reference}" if body.reference else None
    if draft is not None:  # the sender retried: the ticket it already got
        existing = await lifecycle.get_by_draft_key(session, draft)
        if existing is not None:
            return FiledOut(**ComplaintOut.of(existing).model_dump(), merged=False)
    try:
        filing = await desk.register(session, None, form, classifier=context.classifier, tz=context.settings.tz,
                                     sla=context.sla, rules=context.matter_rules, now=context.clock(),
                                     draft_key=draft, description_max=context.settings.intake.description_max)
    except lifecycle.DuplicateSubmission as duplicate:
        return FiledOut(**ComplaintOut.of(duplicate.complaint).model_dump(), merged=False)
    except DeskError as error:
        raise _refused(error) from None
    return FiledOut(**ComplaintOut.of(filing.complaint).model_dump(), merged=filing.merged)


@router.get("/complaints/{number}", response_model=ComplaintOut)
async def read_complaint(number: str, integration: Integration, session: SessionDep):
    """A ticket's status and deadlines."""
    complaint = await handling.ticket_by_number(session, number)
    if complaint is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "no_ticket"})
    return ComplaintOut.of(complaint)


@router.get("/complaints", response_model=ComplaintList)
async def list_complaints(integration: Integration, session: SessionDep, channel: str | None = None,
                          status_: Annotated[str | None, Query(alias="status")] = None, limit: int = 50,
                          offset: int = 0):
    """Tickets, newest first (optionally of one channel or status)."""
    conditions = []
    if channel:
        conditions.append(Complaint.channel == channel)
    if status_:
        conditions.append(Complaint.status == status_)
    limit = min(max(limit, 1), 200)
    total = (await session.exec(select(func.count()).select_from(Complaint).where(*conditions))).one()
    rows = (await session.exec(select(Complaint).where(*conditions)
                               .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
                               .offset(max(offset, 0)).limit(limit))).all()
    return ComplaintList(total=total, items=[ComplaintOut.of(c) for c in rows])
