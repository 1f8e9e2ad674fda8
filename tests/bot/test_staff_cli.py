"""The command line for staff and learning: invite prints a working link, list, remove, --learn."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo


from bot import learn, staff_cli
from bot.settings import Settings
from models.db import create_engine, session_factory
from models.tables import CategoryCorrection, Complaint, ComplaintCreate, Staff
from sandbox import SandboxServer
from services import lifecycle, routing
from services import staff as staff_service
from services.classify import Classification
from services.domain import Category, Kind, Severity

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # a Thursday morning in Shanghai

ROOT = Path(__file__).resolve().parents[2]


def settings_for(url: str, **extra) -> Settings:
    return Settings(database_url=url, _env_file=None, **extra)


class TestInvite:
    async def test_invite_prints_link_last_and_it_binds(self, sqlite_url):
        out, err = io.StringIO(), io.StringIO()
        code = await staff_cli.invite(name="张师傅", team="engineering", role="staff", out=out, err=err,
                                      settings=settings_for(sqlite_url, bot_username="huifang_bot"))
        assert code == 0, err.getvalue()
        link = out.getvalue().strip().splitlines()[-1]
        assert link.startswith("https://t.me/huifang_bot?start=")
        engine = create_engine(sqlite_url)
        async with session_factory(engine)() as session:
            person = await staff_service.redeem_invite(session, link.split("start=")[1], telegram_id=1, chat_id=1)
        await engine.dispose()
        assert person.name == "张师傅"

    async def test_real_command_asks_the_sandbox_for_the_username(self, sqlite_url, tmp_path):
        server = SandboxServer(bot_username="desk_test_bot")
        base = await server.start()
        env = {**os.environ, "DATABASE_URL": sqlite_url, "BOT_TOKEN": "1:x", "TELEGRAM_API_BASE": base}
        env.pop("BOT_USERNAME", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "staff", "invite", "--name", "李师傅", "--team", "cleaning",
            "--role", "supervisor", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        await server.stop()
        assert process.returncode == 0, stderr.decode()
        assert stdout.decode().strip().splitlines()[-1].startswith("https://t.me/desk_test_bot?start=")

    async def test_errors_are_explained(self, sqlite_url):
        out, err = io.StringIO(), io.StringIO()
        assert await staff_cli.invite(name="x", team="nowhere", role="staff", out=out, err=err,
                                      settings=settings_for(sqlite_url, bot_username="b")) == 2
        assert "Unknown team: nowhere" in err.getvalue()  # the operator's terminal speaks English
        err = io.StringIO()
        assert await staff_cli.invite(name="x", team="engineering", role="staff", out=out, err=err,
                                      settings=settings_for(sqlite_url)) == 2
        assert "BOT_TOKEN" in err.getvalue() and "BOT_USERNAME" in err.getvalue()


class TestListAndRemove:
    async def test_list_then_remove_reassigns(self, sqlite_url):
        settings = settings_for(sqlite_url)
        engine = create_engine(sqlite_url)
        sessions = session_factory(engine)
        async with sessions() as session:
            await staff_service.seed_teams(session)
            ids = []
            for n, name in enumerate(("甲", "乙")):
                person, code = await staff_service.create_invite(session, name=name, team_code="engineering", now=NOW)
                await staff_service.redeem_invite(session, code, telegram_id=100 + n, chat_id=100 + n, now=NOW)
                ids.append(person.id)
            resident = await lifecycle.get_or_create_resident(
                session, lifecycle.ResidentProfile(telegram_id=7, chat_id=7, name="r"))
            complaint = await lifecycle.submit_complaint(
                session, resident=resident, draft_key="d", tz=ZoneInfo("Asia/Shanghai"), now=NOW,
                data=ComplaintCreate(description="电梯坏了", location="1栋"),
                classification=Classification(category=Category.ENGINEERING, kind=Kind.COMPLAINT,
                                              severity=Severity.GENERAL, confidence=1, keywords=()))
            await routing.dispatch(session, complaint.id, now=NOW)
            holder = (await session.get(Complaint, complaint.id)).assignee_id

        out = io.StringIO()
        assert await staff_cli.list_staff(include_removed=False, out=out, settings=settings) == 0
        listing = out.getvalue()
        assert "甲" in listing and "乙" in listing and "engineering" in listing and "bound" in listing

        out, err = io.StringIO(), io.StringIO()
        assert await staff_cli.remove(staff_id=holder, out=out, err=err, settings=settings) == 0
        assert complaint.number in out.getvalue() and "pings are queued" in out.getvalue()
        async with sessions() as session:
            moved = await session.get(Complaint, complaint.id)
            removed = await session.get(Staff, holder)
        await engine.dispose()
        assert moved.assignee_id == (set(ids) - {holder}).pop() and not removed.active
        assert await staff_cli.remove(staff_id=holder, out=out, err=err, settings=settings) == 2


class TestLearn:
    async def test_learn_writes_an_overlay_that_changes_the_decision(self, sqlite_url, tmp_path, monkeypatch):
        from services.classify import Classifier, load_lexicon

        text = "小区的健身器材坏了没人管"
        before = Classifier(load_lexicon(overlay=False)).classify(text).category
        wanted = "工程管理" if before != "工程管理" else "综合管理"
        engine = create_engine(sqlite_url)
        async with session_factory(engine)() as session:
            resident = await lifecycle.get_or_create_resident(
                session, lifecycle.ResidentProfile(telegram_id=7, chat_id=7, name="r"))
            for n in range(3):
                complaint = await lifecycle.submit_complaint(
                    session, resident=resident, draft_key=f"d{n}", tz=ZoneInfo("Asia/Shanghai"), now=NOW,
                    data=ComplaintCreate(description=text, location="1栋"),
                    classification=Classification(category=Category(before), kind=Kind.COMPLAINT,
                                                  severity=Severity.GENERAL, confidence=1, keywords=()))
                session.add(CategoryCorrection(complaint_id=complaint.id, text=text, predicted=before, corrected=wanted))
            await session.commit()
        await engine.dispose()
        overlay = tmp_path / "overlay.toml"
        out = io.StringIO()
        assert await learn.learn_from_corrections(overlay=overlay, out=out, settings=settings_for(sqlite_url),
                                                  model=tmp_path / "model.json") == 0
        assert overlay.exists(), out.getvalue()
        after = Classifier(load_lexicon(overlay=overlay)).classify(text).category
        assert after == wanted

    async def test_nothing_to_learn(self, sqlite_url, tmp_path):
        out = io.StringIO()
        assert await learn.learn_from_corrections(overlay=tmp_path / "o.toml", out=out,
                                                  settings=settings_for(sqlite_url), model=tmp_path / "m.json") == 0
        assert "no category corrections" in out.getvalue()
        assert (tmp_path / "m.json").exists() and not (tmp_path / "o.toml").exists()


class TestTeams:
    async def test_set_moves_a_category_and_routes_there(self, sqlite_url):
        settings = settings_for(sqlite_url)
        out, err = io.StringIO(), io.StringIO()
        assert await staff_cli.set_team(code="parking", name="车场组", categories="综合管理", out=out, err=err,
                                        settings=settings) == 0, err.getvalue()
        out = io.StringIO()
        await staff_cli.list_teams(out=out, settings=settings)
        lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
        assert "综合管理" in lines["parking"] and "综合管理" not in lines["service"]
        engine = create_engine(sqlite_url)
        async with session_factory(engine)() as session:
            assert (await staff_service.team_for_category(session, "综合管理")).code == "parking"
        await engine.dispose()

    async def test_bad_input(self, sqlite_url):
        err = io.StringIO()
        assert await staff_cli.set_team(code="x y", name=None, categories=None, out=io.StringIO(), err=err,
                                        settings=settings_for(sqlite_url)) == 2
        assert await staff_cli.set_team(code="ok", name="好", categories="不存在", out=io.StringIO(), err=err,
                                        settings=settings_for(sqlite_url)) == 2
        assert "Team codes may only contain" in err.getvalue() and "Unknown categories: 不存在" in err.getvalue()
