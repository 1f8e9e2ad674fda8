"""Signing in by one-time link, sessions, logout, CSRF, /healthz."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from models.tables import LoginLink, WebSession
from services import web_auth
from web.deps import COOKIE


async def test_healthz_answers_when_the_database_does(console, people):
    response = await people.client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}


async def test_a_login_link_opens_a_session_once(console, people, sessions):
    desk = await people.make("前台小李", None, "desk", telegram=False)
    token = await people.link(desk)
    http = people.client()
    shown = await http.get(f"/login/{token}")  # a link preview must not use the link
    assert shown.status_code == 200 and f'action="/login/{token}"' in shown.text
    response = await http.post(f"/login/{token}")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    board = await http.get("/")
    assert board.status_code == 200 and "前台小李" in board.text and "工单台账" in board.text
    async with sessions() as session:
        link = (await session.exec(select(LoginLink))).one()
        opened = (await session.exec(select(WebSession))).one()
    assert link.token_hash == web_auth.hash_token(token) and token not in (link.token_hash, opened.token_hash)
    again = await people.client().post(f"/login/{token}")
    assert again.status_code == 403 and "已经使用过" in again.text


async def test_an_expired_or_unknown_link_is_refused(console, people, clock):
    desk = await people.make("前台小王", None, "desk", telegram=False)
    token = await people.link(desk)
    clock.advance(timedelta(minutes=11))
    http = people.client()
    response = await http.post(f"/login/{token}")
    assert response.status_code == 403 and "已过期" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert (await http.get("/")).status_code == 303  # still signed out
    unknown = await http.post("/login/" + "x" * 32)
    assert unknown.status_code == 403 and "无效" in unknown.text


async def test_without_a_session_pages_send_to_the_sign_in_page(console, people):
    http = people.client()
    response = await http.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "/web" in (await http.get("/login")).text


async def test_sessions_expire_and_logout_ends_them(console, people, clock):
    desk = await people.make("前台小赵", None, "desk", telegram=False)
    person = await people.login(desk)
    missing = await person.form("/logout", {}, csrf=False)
    assert missing.status_code == 403 and "安全令牌" in missing.text
    assert (await person.http.get("/")).status_code == 200  # refused logout changed nothing
    out = await person.form("/logout", {})
    assert out.status_code == 303
    person.http.cookies.clear()
    assert (await person.http.get("/")).status_code == 303
    other = await people.login(desk)
    clock.advance(timedelta(hours=13))
    assert (await other.http.get("/")).status_code == 303


async def test_a_stolen_cookie_stops_working_after_logout(console, people):
    desk = await people.make("前台小钱", None, "desk", telegram=False)
    person = await people.login(desk)
    stolen = person.http.cookies.get(COOKIE)
    await person.form("/logout", {})
    thief = people.client()
    thief.cookies.set(COOKIE, stolen)
    assert (await thief.get("/")).status_code == 303
