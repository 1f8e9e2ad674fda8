"""``python -m bot report --month YYYY-MM --out PATH.xlsx [--lang en] [--csv]``.

The workbook's ticket-list sheet keeps the first ``report_list_rows`` tickets (env REPORT_LIST_ROWS);
``--csv`` also writes every ticket of the month to ``PATH.csv`` beside it (streamed, UTF-8 with BOM)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.i18n import DEFAULT_LOCALE, LOCALES, _, catalogues
from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from services import report as report_service
from services import staff as staff_service
from services import stats


async def write_report(*, month: str, out: Path, team: str | None, out_stream: TextIO, err: TextIO,
                       settings: Settings | None = None, locale: str = DEFAULT_LOCALE, csv: bool = False) -> int:
    settings = settings or Settings()
    if locale not in LOCALES:
        err.write(f"error: --lang must be one of {', '.join(LOCALES)}\n")
        return 2
    try:
        stats.parse_month(month)
    except ValueError as error:
        err.write(f"error: {error}; use YYYY-MM, e.g. 2026-10\n")
        return 2
    if out.suffix.lower() != ".xlsx":
        err.write("error: --out must end in .xlsx\n")
        return 2
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            team_id = None
            if team:
                try:
                    team_id = (await staff_service.team_by_code(session, team)).id
                except staff_service.StaffError as error:
                    err.write(f"error: {error}\n")
                    return 2
            out.parent.mkdir(parents=True, exist_ok=True)
            with catalogues().use_locale(locale):
                files = await report_service.build_report(session, month=month, tz=settings.tz, out=out,
                                                          team_id=team_id, text=_,
                                                          list_rows=settings.report_list_rows)
                csv_path = None
                if csv:
                    csv_path = await report_service.write_ticket_csv(session, out.with_suffix(".csv"), month=month,
                                                                     tz=settings.tz, text=_, team_id=team_id)
    finally:
        await engine.dispose()
    out_stream.write(f"wrote {files.xlsx}\n")
    if csv_path is not None:
        out_stream.write(f"wrote {csv_path}\n")
    for chart in files.charts:
        out_stream.write(f"chart {chart}\n")
    return 0
