"""A ticket: every field, the audit timeline, callback rounds, and the Telegram buttons' actions
(accept, note, resolve, transfer) through the same use cases as the bot."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram_files import FileUnavailable, telegram_file
from models.tables import Complaint, CorrectiveAction, Staff, Team
from services import desk, handling, lifecycle, majors, procedure, satisfaction
from services import staff as staff_service
from services.domain import Category, Severity, Status
from services.errors import DeskError
from services.media import MediaStore, image_type, is_upload
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, Viewer, context_of
from web.pages import page

router = APIRouter(prefix="/tickets")
log = logging.getLogger(__name__)


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


@router.get("/{number}/photos/{index}")
async def photo(request: Request, number: str, index: int, viewer: CurrentUser, session: SessionDep):
    """One of the ticket's photos (uploaded at the console, or sent in Telegram and fetched from the
    Bot API once), to those who may see the ticket."""
    complaint = await visible(session, number, viewer)
    settings = context_of(request).settings
    ref = complaint.photos[index] if 0 <= index < len(complaint.photos) else ""
    if not ref:
        raise HTTPException(status_code=404)
    if is_upload(ref):
        path = MediaStore(settings.media_dir).path(ref)
    else:
        try:
            path = await telegram_file(settings, ref)
        except FileUnavailable as error:
            log.warning("photo %d of %s could not be fetched from Telegram: %s", index, number, error)
            raise HTTPException(status_code=502) from None
    if path is None:  # an uploaded file lost from disk
        raise HTTPException(status_code=404)
    return FileResponse(path, media_type=image_type(path),
                        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


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
        "plan": procedure.may_submit_plan(complaint, me),
        "decide_plan": procedure.can_supervise(complaint, me) and complaint.plan_status == "submitted",
    }
    linked = [g for g in await majors.linked(session, complaint) if g.id != complaint.id] if (
        complaint.major or complaint.related_to_id) else []
    actions["reply"] = complaint.major and majors.may_own(me) and Status(complaint.status) in lifecycle.OPEN_STATUSES
    values = {"c": complaint, "linked": linked, "events": events, "names": names, "people": people, "team": team,
              "rounds": await satisfaction.callback_record(session, complaint.id), "actions": actions,
              "full_phone": shows_full_phone(complaint, me), "sla": desk.sla_state(complaint, context_of(request).clock()),
              "teams": [t for t in await staff_service.teams(session)],
              "categories": [c.value for c in Category], "severities": [v.value for v in Severity],
              # 原因分析 / 整改措施 / 处理方案 (services.procedure)
              "needs_cause": procedure.needs_cause(complaint), "causes": procedure.CAUSES,
              "our_causes": sorted(procedure.OUR_CAUSES), "plans": await procedure.plans_of(session, complaint.id),
              "corrective": await procedure.actions_of(session, complaint.id),
              "owners": [p for p in people.values() if p.active],
              "may_finish_action": lambda a: a.status == "open" and (
                  a.owner_id == me.id or procedure.can_supervise(complaint, me))}
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


def _due(value: str, tz) -> datetime | None:
    """A due date from the form (a local day): the end of that working day, 18:00 local."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime.combine(day, time(18, 0), tz).astimezone(UTC)


@router.post("/{number}/resolve")
async def resolve(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                  result: Annotated[str, Form()] = "", on_spot: Annotated[str, Form()] = "",
                  cause: Annotated[str, Form()] = "", cause_text: Annotated[str, Form()] = "",
                  action: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "",
                  due: Annotated[str, Form()] = ""):
    """办结; a Ⅰ/Ⅱ ticket with its cause and, when the cause is ours, the corrective action."""
    complaint = await visible(session, number, viewer)
    context = context_of(request)
    stated = None
    if cause:
        stated = procedure.Cause(cause, cause_text, action or None, int(owner) if owner.isdigit() else None,
                                 _due(due, context.settings.tz) if due else None)
    await handling.resolve(session, complaint.id, viewer.staff, result, policy=context.callback_policy,
                           now=context.clock(), on_spot=bool(on_spot), cause=stated)
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


@router.post("/{number}/plan")
async def submit_plan(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                      text: Annotated[str, Form()] = ""):
    """处理方案 of a Ⅰ/Ⅱ ticket: the supervisor is asked to approve it."""
    complaint = await visible(session, number, viewer)
    await procedure.submit_plan(session, complaint.id, viewer.staff, text, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/plan/decide")
async def decide_plan(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                      decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
    """审批: approve the pending plan, or return it with a reason."""
    complaint = await visible(session, number, viewer)
    await procedure.decide_plan(session, complaint.id, viewer.staff, approve=decision == "approve",
                                reason=reason, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/actions/{action_id}/done")
async def finish_action(request: Request, number: str, action_id: int, viewer: CsrfUser, session: SessionDep,
                        note: Annotated[str, Form()] = ""):
    """A corrective action carried out, with what was done."""
    complaint = await visible(session, number, viewer)
    found = await session.get(CorrectiveAction, action_id)
    if found is None or found.complaint_id != complaint.id:
        raise DeskError("no_action")
    await procedure.complete_action(session, action_id, viewer.staff, note, now=context_of(request).clock())
    return back(complaint.number)


@router.post("/{number}/reply")
async def major_reply(request: Request, number: str, viewer: CsrfUser, session: SessionDep,
                      text: Annotated[str, Form()] = ""):
    """重大投诉: the manager's reply to every resident of the matter."""
    complaint = await visible(session, number, viewer)
    await majors.reply(session, complaint.id, viewer.staff, text, now=context_of(request).clock())
    return back(complaint.number)
