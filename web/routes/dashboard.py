"""Dashboard: this month against last month (the /stats figures) as bars in the page, and the
monthly report's spreadsheet (月度投诉分析报告) for any month to download."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from bot.i18n import _, catalogues
from services import report_figures, review, stats
from services.domain import Status
from services.errors import DeskError
from web.deps import CsrfUser, CurrentUser, Forbidden, SessionDep, context_of
from web.pages import locale_of, page

router = APIRouter(prefix="/dashboard")
VIEWERS = ("supervisor", "manager", "admin", "desk")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def _scope(viewer) -> int | None:
    """Supervisors see their team's figures; desk agents, managers and admins everything."""
    if viewer.staff.role not in VIEWERS:
        raise Forbidden("web.error.stats_only")
    return viewer.staff.team_id if viewer.staff.role == "supervisor" else None


def _month(value: str, default: str) -> str:
    month = (value or default).strip()
    try:
        stats.parse_month(month)
    except ValueError:
        raise DeskError("month_invalid") from None
    return month


@router.get("")
async def dashboard(request: Request, viewer: CurrentUser, session: SessionDep, month: str = ""):
    team_id = _scope(viewer)
    context = context_of(request)
    tz, now = context.settings.tz, context.clock()
    month = _month(month, stats.current_month(tz, now))
    current, previous = await stats.compare(session, month=month, tz=tz, team_id=team_id, now=now)
    categories = list(dict.fromkeys([*current.by_category, *previous.by_category]))
    top = max([1, *current.by_category.values(), *previous.by_category.values()])
    statuses = [s.value for s in Status if current.by_status.get(s.value) or previous.by_status.get(s.value)]
    return page(request, "dashboard.html", {
        "month": month, "previous_month": stats.previous_month(month), "current": current, "previous": previous,
        "categories": categories, "top": top, "statuses": statuses,
        "report_month": stats.previous_month(stats.current_month(tz, now)),
        "drafts": await review.drafts(session) if review.may_review(viewer.staff) else [],
        "figures": await report_figures.month_figures(session, current)})


@router.get("/report.xlsx")
async def report(request: Request, viewer: CurrentUser, session: SessionDep, month: str = ""):
    """The monthly analysis report's workbook, built now from the database."""
    from services import report as report_service  # openpyxl and matplotlib: only when a report is made

    team_id = _scope(viewer)
    context = context_of(request)
    month = _month(month, stats.previous_month(stats.current_month(context.settings.tz, context.clock())))
    with tempfile.TemporaryDirectory(prefix="huifang-report-") as folder, catalogues().use_locale(locale_of(request)):
        files = await report_service.build_report(session, month=month, tz=context.settings.tz,
                                                  out=Path(folder) / f"report-{month}.xlsx", team_id=team_id,
                                                  now=context.clock(), text=_,
                                                  list_rows=context.settings.report_list_rows)
        content = files.xlsx.read_bytes()
    return Response(content, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="huifang-report-{month}.xlsx"'})


@router.get("/tickets.csv")
async def tickets_csv(request: Request, viewer: CurrentUser, month: str = ""):
    """Every ticket of the month as CSV (the report's list sheet keeps only the first rows), streamed:
    rows go out as the database's cursor gives them, in the reader's language, UTF-8 with a BOM."""
    from services import report as report_service

    team_id = _scope(viewer)
    context = context_of(request)
    tz, now = context.settings.tz, context.clock()
    month = _month(month, stats.previous_month(stats.current_month(tz, now)))
    text = partial(catalogues().text, locale=locale_of(request))

    async def body():
        # its own session: the response streams after the route (and its dependencies) returned
        async with context.sessions() as session:
            async for chunk in report_service.ticket_csv(session, month=month, tz=tz, text=text,
                                                         team_id=team_id, now=now):
                yield chunk

    return StreamingResponse(body(), media_type=CSV,
                             headers={"Content-Disposition": f'attachment; filename="huifang-tickets-{month}.csv"'})


@router.post("/review/{month}")
async def review_report(request: Request, month: str, viewer: CsrfUser, session: SessionDep,
                        summary: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "save"):
    """The report draft: save the analysis summary, or save it and approve (the report is sent)."""
    now = context_of(request).clock()
    if action == "approve":
        await review.approve(session, month, viewer.staff, now=now, summary=summary)
        return RedirectResponse(f"/dashboard?approved={month}", status_code=303)
    await review.set_summary(session, month, viewer.staff, summary, now=now)
    return RedirectResponse("/dashboard", status_code=303)
