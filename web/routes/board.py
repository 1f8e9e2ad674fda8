"""The board (工单台账): tickets with filters, search, the SLA clock in colour and paging."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from services import desk
from services import staff as staff_service
from services.domain import Category, Severity, Status
from web.deps import CurrentUser, SessionDep, context_of
from web.pages import page

router = APIRouter()


def local_day(text: str, tz) -> datetime | None:
    """The start of a local day typed as YYYY-MM-DD (a date field), in UTC; None when empty or wrong."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


@router.get("/")
async def board(request: Request, viewer: CurrentUser, session: SessionDep, status: str = "", team: str = "",
                overdue: str = "", q: str = "", page_no: int = 1, category: str = "", severity: str = "",
                channel: str = "", major: str = "", assignee: str = "", since: str = "", until: str = ""):
    context = context_of(request)
    now = context.clock()
    status = status if status in {s.value for s in Status} else ""
    team_id = int(team) if team.isdigit() else None
    category = category if category in {c.value for c in Category} else ""
    severity = severity if severity in {s.value for s in Severity} else ""
    channel = channel if channel in ("telegram", *desk.CHANNELS) else ""
    assignee_id = int(assignee) if assignee.isdigit() else None
    tz = context.settings.tz
    first, last = local_day(since, tz), local_day(until, tz)
    result = await desk.board(session, viewer.staff, now=now, status=status or None, team_id=team_id,
                              overdue=bool(overdue), query=q, page=page_no, category=category or None,
                              severity=severity or None, channel=channel or None, major=bool(major),
                              assignee_id=assignee_id, since=first,
                              until=last + timedelta(days=1) if last is not None else None)
    filters = {"status": status, "team": team_id or "", "overdue": "1" if overdue else "", "q": q,
               "category": category, "severity": severity, "channel": channel, "major": "1" if major else "",
               "assignee": assignee_id or "", "since": since if first else "", "until": until if last else ""}
    teams = {t.id: t for t in await staff_service.teams(session)}
    everyone = await staff_service.list_staff(session, include_removed=True)
    people = [p for p in everyone if p.active and p.role in ("staff", "supervisor")
              and (viewer.staff.role in desk.ALL_TICKETS_ROLES or p.team_id == viewer.staff.team_id)]
    owner_ids = {c.major_owner_id for c in result.rows if c.major_owner_id}
    owners = {s.id: s.name for s in everyone if s.id in owner_ids}
    values = {"result": result, "teams": teams, "owners": owners, "statuses": [s.value for s in Status],
              "sla_state": desk.sla_state,
              "filters": filters, "query": urlencode(filters),
              "categories": [c.value for c in Category], "severities": [v.value for v in Severity],
              "channels": ("telegram", *desk.CHANNELS),
              "sees_all": viewer.staff.role in desk.ALL_TICKETS_ROLES, "people": people}
    template = "_board_rows.html" if request.headers.get("HX-Request") else "board.html"
    return page(request, template, values)
