"""ResidentMiddleware's cache: a hit needs no SELECT, and every change of a resident row drops it."""

from __future__ import annotations

from sqlmodel import select

from bot.middlewares import ResidentCache, ResidentMiddleware
from models.tables import Resident
from services import routing
from services.lifecycle import ResidentProfile, set_locale
from tests.statements import recorded

PROFILE = ResidentProfile(telegram_id=4242, chat_id=4242, name="王芳", username="wf", language_code="zh-hans")


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def through(middleware: ResidentMiddleware, sessions, profile: ResidentProfile = PROFILE):
    """What the middleware hands a handler for one update from ``profile``, and the statements it ran."""
    from aiogram.types import Chat, Message, User
    from datetime import datetime

    user = User(id=profile.telegram_id, is_bot=False, first_name=profile.name, username=profile.username,
                language_code=profile.language_code)
    message = Message(message_id=1, date=datetime(2026, 11, 26, 9, 0), chat=Chat(id=profile.chat_id, type="private"),
                      from_user=user, text="hi")
    seen = {}

    async def handler(_event, data):
        seen["resident"] = data["resident"]
        seen["locale"] = data["resident"].locale

    async with sessions() as session:
        with recorded(session.bind) as statements:
            await middleware(handler, message, {"session": session})
    return seen["resident"], [s for s in statements if s.upper().startswith(("SELECT", "UPDATE", "INSERT"))]


async def test_second_update_reads_nothing(sessions):
    middleware = ResidentMiddleware(ResidentCache())
    first, statements = await through(middleware, sessions)
    assert statements  # created
    second, statements = await through(middleware, sessions)
    assert statements == []
    assert second.id == first.id and second.name == "王芳"
    assert second.model_dump() == first.model_dump()  # every column, as read


async def test_profile_change_reads_and_updates(sessions):
    middleware = ResidentMiddleware(ResidentCache())
    await through(middleware, sessions)
    renamed = ResidentProfile(**{**PROFILE.__dict__, "name": "王芳芳"})
    resident, statements = await through(middleware, sessions, renamed)
    assert statements and resident.name == "王芳芳"
    async with sessions() as session:
        assert (await session.exec(select(Resident.name).where(Resident.telegram_id == 4242))).one() == "王芳芳"


async def test_locale_change_and_unreachable_drop_the_entry(sessions):
    cache = ResidentCache()
    middleware = ResidentMiddleware(cache)
    resident, _ = await through(middleware, sessions)
    async with sessions() as session:
        session.add(resident)
        await set_locale(session, resident, "en")  # an ORM change
    assert len(cache) == 0
    resident, statements = await through(middleware, sessions)
    assert statements and resident.locale == "en"
    async with sessions() as session:
        await routing.resident_unreachable(session, resident.id)  # a bulk UPDATE
        await session.commit()
    assert len(cache) == 0
    resident, statements = await through(middleware, sessions)
    assert statements and resident.unreachable is False  # writing again makes them reachable


async def test_entries_expire_and_are_bounded(sessions):
    ticks = Ticks()
    cache = ResidentCache(size=1, ttl=60, clock=ticks)
    middleware = ResidentMiddleware(cache)
    await through(middleware, sessions)
    ticks.now = 61
    _, statements = await through(middleware, sessions)
    assert statements  # read again
    other = ResidentProfile(telegram_id=4343, chat_id=4343, name="李雷")
    await through(middleware, sessions, other)
    assert len(cache) == 1
    _, statements = await through(middleware, sessions)
    assert statements  # evicted by the other person


async def test_without_a_cache_every_update_reads(sessions):
    middleware = ResidentMiddleware()
    await through(middleware, sessions)
    _, statements = await through(middleware, sessions)
    assert statements
