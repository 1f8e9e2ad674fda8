"""Managers' figures in chat: /stats [YYYY-MM] and /report [YYYY-MM]."""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path

from aiogram.filters import Command, CommandObject
from aiogram.types import FSInputFile, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.figures import render_more_figures, render_stats_text
from bot.i18n import _
from bot.settings import Settings
from handlers.declare import CommandOrState, Handlers
from handlers.staff import IsStaff
from models.tables import Staff
from models.types import Clock
from services import stats

handlers = Handlers("reports")
handlers.message.filter(CommandOrState())  # commands only

VIEWERS = ("supervisor", "manager", "admin")


def scope_of(staff: Staff) -> int | None:
    """A supervisor sees their team, managers and admins everything."""
    return staff.team_id if staff.role == "supervisor" else None


async def viewer_month(message: Message, command: CommandObject, staff: Staff, *, default: str, name: str) -> str | None:
    """The month asked for, if this person may see figures; otherwise None after saying why."""
    if staff.role not in VIEWERS:
        await message.answer(_("staff.stats_only"))
        return None
    value = (command.args or "").strip().split()
    month = value[0] if value else default
    try:
        stats.parse_month(month)
    except ValueError:
        await message.answer(_("staff.month_usage", command=name))
        return None
    return month


@handlers.message(Command("stats"), IsStaff())
async def stats_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                        settings: Settings, clock: Clock) -> None:
    """This month so far (or a given month) against the month before."""
    month = await viewer_month(message, command, staff, default=stats.current_month(settings.tz, clock()),
                               name="stats")
    if month is None:
        return
    current, previous = await stats.compare(session, month=month, tz=settings.tz, team_id=scope_of(staff),
                                            now=clock())
    validity = _("staff.stats_validity", valid=current.valid, invalid=current.invalid, valid_before=previous.valid,
                 invalid_before=previous.invalid)
    from services import report_figures  # the seeds' figures: by kind and channel, resolution time, reopen rate

    more = render_more_figures(await report_figures.month_figures(session, current, majors_limit=5))
    await message.answer(render_stats_text(current, previous) + "\n" + validity + "\n" + more)


@handlers.message(Command("report"), IsStaff())
async def report_command(message: Message, command: CommandObject, session: AsyncSession, staff: Staff,
                         settings: Settings, clock: Clock) -> None:
    """The monthly analysis report (spreadsheet and charts) for a month, last month by default."""
    default = stats.previous_month(stats.current_month(settings.tz, clock()))
    month = await viewer_month(message, command, staff, default=default, name="report")
    if month is None:
        return
    await message.answer(_("staff.report_working", month=escape(month)))
    with tempfile.TemporaryDirectory(prefix="huifang-report-") as folder:
        from services import report as report_service  # openpyxl and matplotlib: only when a report is made

        files = await report_service.build_report(session, month=month, tz=settings.tz,
                                                  out=Path(folder) / f"report-{month}.xlsx",
                                                  team_id=scope_of(staff), text=_,
                                                  list_rows=settings.report_list_rows)
        await message.answer_document(FSInputFile(files.xlsx), caption=_("staff.report_caption", month=month))
        for chart in files.charts:
            await message.answer_photo(FSInputFile(chart))
