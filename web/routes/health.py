"""GET /healthz: 200 when the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from web.deps import SessionDep

router = APIRouter()


@router.get("/healthz")
async def healthz(session: SessionDep) -> JSONResponse:
    try:
        await session.exec(text("SELECT 1"))
    except Exception as error:  # the database does not answer
        return JSONResponse({"ok": False, "error": type(error).__name__}, status_code=503)
    return JSONResponse({"ok": True})
