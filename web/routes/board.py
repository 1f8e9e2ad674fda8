"""The board (工单台账): tickets with filters, search, the SLA clock in colour and paging."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services import desk
from services import staff as staff_service
from services.domain import Status
from web.deps import CurrentUser, SessionDep, context_of
from web.pages import page

router = APIRouter()


@router.get("/")
async def board(request: Request, viewer: CurrentUser, session: SessionDep, status: str = "", team: str = "",
                overdue: str = "", q: str = "", page_no: int = 1):
    now = context_of(request).clock()
    status = status if status in {s.value for s in Status} else ""
    team_id = int(team) if team.isdigit() else None
    result = await desk.board(session, viewer.staff, now=now, status=status or None, team_id=team_id,
                              overdue=bool(overdue), query=q, page=page_no)
    teams = {t.id: t for t in await staff_service.teams(session)}
    values = {"result": result, "teams": teams, "statuses": [s.value for s in Status], "sla_state": desk.sla_state,
              "filters": {"status": status, "team": team_id, "overdue": bool(overdue), "q": q},
              "sees_all": viewer.staff.role in desk.ALL_TICKETS_ROLES}
    template = "_board_rows.html" if request.headers.get("HX-Request") else "board.html"
    return page(request, template, values)
