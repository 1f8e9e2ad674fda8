"""A ticket: every field, the audit timeline, callback rounds, and the Telegram buttons' actions
(accept, note, resolve, transfer) through the same use cases as the bot."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Complaint, Staff, Team
from services import desk, handling, lifecycle, majors
from services import staff as staff_service
from services.domain import Category, Severity, Status
from services.errors import DeskError
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, Viewer, context_of
from web.pages import page

router = APIRouter(prefix="/tickets")


async def visible(session: AsyncSession, number: str, viewer: Viewer) -> Complaint:
    """The ticket, if the viewer may see it (403 otherwise: staff see their team's tickets)."""
    complaint = await handling.ticket_by_number(session, number)
    if complaint is None:
        raise DeskError("no_ticket")
    if not handling.can_view(complaint, viewer.staff):
        raise Forbidden("web.error.not_your_ticket")
    return complaint


def shows_full_phone(complaint: Complaint, staff: Staff) -> bool:
    """The full number: desk agents, managers and admins, and the assignee once accepted."""
    return staff.role in desk.ALL_TICKETS_ROLES or (
        complaint.assignee_id == staff.id and complaint.accepted_at is not None)


@router.get("/{number}")
async def ticket(request: Request, number: str, viewer: CurrentUser, session: SessionDep):
    complaint = await visible(session, number, viewer)
    events = await lifecycle.events_of(session, complaint)
    telegram_ids = {e.actor_id for e in events if e.actor == "staff" and e.actor_id}
    names = {s.telegram_id: s.name for s in (await session.exec(
        select(Staff).where(col(Staff.telegram_id).in_(telegram_ids)))).all()} if telegram_ids else {}
    people = {s.id: s for s in await staff_service.list_staff(session, include_removed=True)}
    team = await session.get(Team, complaint.team_id) if complaint.team_id else None
    me = viewer.staff
    holder = complaint.assignee_id == me.id
    actions = {
        "accept": holder and complaint.status in (Status.ASSIGNED.value, Status.REOPENED.value),
        "note": holder and complaint.status == Status.ACCEPTED.value,
        "resolve": holder and complaint.status == Status.ACCEPTED.value,
        "transfer": handling.can_direct(complaint, me) and Status(complaint.status) in lifecycle.OPEN_STATUSES,
        "pause": holder and complaint.status == Status.ACCEPTED.value and not handling.is_paused(complaint),
        "resume": holder and handling.is_paused(complaint),
        "correct": handling.can_direct(complaint, me) and Status(complaint.status) in lifecycle.OPEN_STATUSES,
        "sensitive": handling.can_direct(complaint, me),
    }
    linked = [g for g in await majors.linked(session, complaint) if g.id != complaint.id] if (
        complaint.major or complaint.related_to_id) else []
    actions["reply"] = complaint.major and majors.may_own(me) and Status(complaint.status) in lifecycle.OPEN_STATUSES
    values = {"c": complaint, "linked": linked, "events": events, "names": names, "people": people, "team": team,
              "rounds": await desk.rounds_of(session, complaint.id), "actions": actions,
              "full_phone": shows_full_phone(complaint, me), "sla": desk.sla_state(complaint, context_of(request).clock()),
              "teams": [t for t in await staff_service.teams(session)],
              "categories": [c.value for c in Category], "severities": [v.value for v in Severity]}
    return page(request, "ticket.html", values)


def back(number: str) -> RedirectResponse:
    return RedirectResponse(f"/tickets/{number}", status_code=303)


@router.post("/{number}/accept")
async def accept(request: Request, number: str, viewer: CsrfUser, session: SessionDep):
    complaint = await visible(session, number, viewer)
    await handling.accept(session, complaint.id, viewer.staff, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/note")
async def note(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
               text: Annotated[str, Form()] = ""):
    complaint = await visible(session, number, viewer)
    await handling.add_note(session, complaint.id, viewer.staff, text, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/resolve")
async def resolve(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                  result: Annotated[str, Form()] = "", on_spot: Annotated[str, Form()] = ""):
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    await handling.resolve(session, complaint.id, viewer.staff, result, policy=context.callback_policy,
                           now=context.clock(), on_spot=bool(on_spot))
    return back(complaint.number)


@router.post("/{number}/transfer")
async def transfer(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                   team: Annotated[str, Form()] = ""):
    complaint = await visible(session, number, viewer)
    target = await staff_service.team_by_code(session, team)
    await handling.transfer(session, complaint.id, viewer.staff, team=target, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/pause")
async def pause(request: Request, number: str, viewer: CsrfUser, session: SessionDep):
    """等待住户: the SLA clock stops until the resident answers or staff resume."""
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    await handling.pause(session, complaint.id, viewer.staff, context.sla, now=context.clock())
    return back(complaint.number)


@router.post("/{number}/resume")
async def resume(request: Request, number: str, viewer: CsrfUser, session: SessionDep):
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    await handling.resume(session, complaint.id, viewer.staff, context.sla, now=context.clock())
    return back(complaint.number)


@router.post("/{number}/sensitive")
async def sensitive(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                    on: Annotated[str, Form()] = ""):
    """不便回访 on or off."""
    complaint = await visible(session, number, viewer)
    await handling.set_sensitive(session, complaint.id, viewer.staff, bool(on), now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/classify")
async def classify(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                   category: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = ""):
    """Correct the category (kept for the classifier to learn) and/or the severity (deadlines follow)."""
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    if category not in {c.value for c in Category} or severity not in {s.value for s in Severity}:
        raise DeskError("unknown_categories", unknown=category or severity, known="")
    if category != complaint.category:
        await handling.correct_category(session, complaint.id, viewer.staff, category, now=context.clock())
    if severity != complaint.severity:
        await handling.set_severity(session, complaint.id, viewer.staff, severity, context.sla, now=context.clock())
    return back(complaint.number)


@router.post("/{number}/reply")
async def major_reply(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                      text: Annotated[str, Form()] = ""):
    """重大投诉: the manager's reply to every resident of the matter."""
    complaint = await visible(session, number, viewer)
    await majors.reply(session, complaint.id, viewer.staff, text, now=context_of(request).clock())
    return back(complaint.number)
