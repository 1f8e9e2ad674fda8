"""The console application: FastAPI with Jinja2 pages and htmx (shipped in web/static).

Every route calls a use case of ``services/`` with the app's clock; the notices those store reach
residents and staff in Telegram through the bot's delivery worker, exactly as when the action is
taken in the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.types import Clock, utcnow
from services.classify import Classifier, get_classifier
from services.errors import DeskError
from services.filing import MatterRules
from services.satisfaction import CallbackPolicy
from services.sla import SlaPolicy
from web.deps import Forbidden, NotSignedIn
from web.pages import page

STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class WebContext:
    """What the routes share with the bot: settings, sessions, clock, classifier and policies."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utcnow
    classifier: Classifier | None = None

    def __post_init__(self) -> None:
        self.classifier = self.classifier or get_classifier()
        self.sla = SlaPolicy.from_settings(self.settings)
        self.callback_policy = CallbackPolicy.from_settings(self.settings)
        self.matter_rules = MatterRules.from_settings(self.settings)

    @property
    def secure_cookies(self) -> bool:
        return self.settings.web_url.startswith("https://")


def create_app(context: WebContext) -> FastAPI:
    from web.routes import admin, api, auth, board, callbacks, dashboard, health, register, tickets, warnings

    app = FastAPI(title="Huifang desk API", version="1", docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.context = context
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (health, auth, board, tickets, register, callbacks, dashboard, warnings, admin):
        app.include_router(module.router, include_in_schema=False)
    app.include_router(api.router)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn):
        if request.headers.get("HX-Request"):
            return page(request, "error.html", {"message_key": "web.error.signed_out"}, status_code=401,
                        headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "error.html", {"message_key": exc.key}, status_code=403)

    @app.exception_handler(DeskError)
    async def _refused(request: Request, exc: DeskError):
        return page(request, "error.html", {"error": exc}, status_code=409)

    return app
