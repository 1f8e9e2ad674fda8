"""/api/v1 with per-integration keys: file a complaint from another channel, read, list; refusals."""

from __future__ import annotations

import io

from sqlmodel import select

from bot import web_cli
from models.tables import Complaint, OutboxNotice
from services import api_keys
from services.notices import NoticeKind

BODY = {"channel": "wechat", "name": "陈阿姨", "phone": "13900001234", "location": "5栋2单元",
        "description": "电梯坏了，门打不开，楼道灯也不亮", "reference": "wx-1001"}


async def key_for(sessions, clock, name="wechat") -> str:
    async with sessions() as session:
        return (await api_keys.create_key(session, name, now=clock()))[1]


async def test_an_integration_files_a_complaint_routed_like_any_other(console, people, sessions, clock):
    fixer = await people.make("张师傅", "engineering")
    key = await key_for(sessions, clock)
    http = people.client()
    response = await http.post("/api/v1/complaints", json=BODY, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["channel"] == "wechat" and filed["status"] == "assigned" and filed["category"] == "工程管理"
    again = await http.post("/api/v1/complaints", json=BODY, headers={"X-API-Key": key})
    assert again.status_code == 201 and again.json()["number"] == filed["number"]  # a retry files once
    async with sessions() as session:
        assert len((await session.exec(select(Complaint))).all()) == 1
        pings = (await session.exec(select(OutboxNotice).where(OutboxNotice.kind == NoticeKind.ASSIGNED.value))).all()
    assert [p.recipient_id for p in pings] == [fixer.id]
    read = await http.get(f"/api/v1/complaints/{filed['number']}", headers={"X-API-Key": key})
    assert read.status_code == 200 and read.json()["number"] == filed["number"]
    listed = await http.get("/api/v1/complaints", params={"channel": "wechat"}, headers={"X-API-Key": key})
    assert listed.json()["total"] == 1
    bad = await http.post("/api/v1/complaints", json={**BODY, "phone": "12", "reference": None},
                          headers={"X-API-Key": key})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "phone_invalid"
    schema = await http.get("/openapi.json")
    assert "/api/v1/complaints" in schema.json()["paths"] and "/tickets/{number}" not in schema.json()["paths"]


async def test_no_key_an_unknown_key_or_a_revoked_one_is_refused_and_nothing_changes(console, people, sessions,
                                                                                      clock, settings):
    key = await key_for(sessions, clock)
    http = people.client()
    assert (await http.post("/api/v1/complaints", json=BODY)).status_code == 401
    assert (await http.post("/api/v1/complaints", json=BODY,
                            headers={"X-API-Key": "hf_" + "x" * 43})).status_code == 401
    out, err = io.StringIO(), io.StringIO()
    assert await web_cli.apikey("revoke", "wechat", out=out, err=err, settings=settings, now=clock()) == 0
    refused = await http.post("/api/v1/complaints", json=BODY, headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert (await http.get("/api/v1/complaints", headers={"X-API-Key": key})).status_code == 401
    async with sessions() as session:
        assert (await session.exec(select(Complaint))).all() == []


async def test_apikey_command_prints_the_key_last_and_lists_it(console, sessions, clock, settings):
    out, err = io.StringIO(), io.StringIO()
    assert await web_cli.apikey("create", "hotline", out=out, err=err, settings=settings, now=clock()) == 0
    raw = out.getvalue().strip().splitlines()[-1]
    async with sessions() as session:
        assert (await api_keys.authenticate(session, raw, now=clock())).name == "hotline"
    listing = io.StringIO()
    await web_cli.apikey("list", None, out=listing, err=err, settings=settings)
    assert "hotline" in listing.getvalue() and raw not in listing.getvalue()
    assert await web_cli.apikey("create", "hotline", out=out, err=err, settings=settings, now=clock()) == 2
