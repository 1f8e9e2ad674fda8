"""Console fixtures: the FastAPI app over a real migrated database (SQLite and PostgreSQL), driven
by httpx in-process, with a pinned clock; staff created through real invites and logged in by link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest

from bot.settings import Settings
from models.tables import Staff
from services import staff as staff_service
from services import web_auth
from tests.clock import PinnedClock
from web import WebContext, create_app

# Thursday 2026-11-26 10:00 in Shanghai: working hours, inside a callback slot.
START = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def clock() -> PinnedClock:
    return PinnedClock(START)


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, bot_token="1:x", web_port=8080, report_day=0,
                    callback_major_by_phone=True, media_dir=str(tmp_path / "media"), _env_file=None)


@pytest.fixture
async def console(settings, sessions, clock, classifier):
    async with sessions() as session:
        await staff_service.seed_teams(session)
    context = WebContext(settings, sessions, clock=clock, classifier=classifier)
    return create_app(context)


@dataclass
class Person:
    staff: Staff
    http: httpx.AsyncClient
    csrf: str = ""

    async def form(self, url: str, data: dict, *, csrf: bool = True) -> httpx.Response:
        payload = {**data, **({"csrf_token": self.csrf} if csrf else {})}
        return await self.http.post(url, data=payload)


class People:
    """Creates staff (bound to Telegram through their invite when they have an id) and signs them in."""

    def __init__(self, app, sessions, clock) -> None:
        self.app, self.sessions, self.clock = app, sessions, clock
        self.clients: list[httpx.AsyncClient] = []
        self.next_telegram = 9100

    async def make(self, name: str, team: str | None, role: str = "staff", *, telegram: bool = True) -> Staff:
        async with self.sessions() as session:
            person, code = await staff_service.create_invite(session, name=name, team_code=team, role=role,
                                                             now=self.clock())
            if telegram:
                self.next_telegram += 1
                person = await staff_service.redeem_invite(session, code, telegram_id=self.next_telegram,
                                                           chat_id=self.next_telegram, now=self.clock())
        return person

    def client(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")
        self.clients.append(http)
        return http

    async def link(self, person: Staff) -> str:
        async with self.sessions() as session:
            return await web_auth.create_login_link(session, person, now=self.clock())

    async def login(self, person: Staff) -> Person:
        http = self.client()
        token = await self.link(person)
        response = await http.post(f"/login/{token}")
        assert response.status_code == 303, response.text
        board = await http.get("/")
        assert board.status_code == 200
        return Person(person, http, CSRF.search(board.text).group(1))

    async def close(self) -> None:
        for http in self.clients:
            await http.aclose()


@pytest.fixture
async def people(console, sessions, clock):
    found = People(console, sessions, clock)
    yield found
    await found.close()
