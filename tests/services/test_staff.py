"""Teams, invites and routing on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import select

from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Staff, Team
from services import lifecycle, routing
from services import staff as staff_service
from services.classify import Classification
from services.domain import Category, Flag, Kind, Severity
from services.notices import NoticeKind
from tests.statements import recorded

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def classification(category=Category.ENGINEERING, severity=Severity.GENERAL, flags=()):
    return Classification(category=category, kind=Kind.COMPLAINT, severity=severity, confidence=0.9,
                          keywords=(), flags=frozenset(flags))


async def bound(session, name, team, role="staff", telegram_id=None):
    person, code = await staff_service.create_invite(session, name=name, team_code=team, role=role, now=NOW)
    return await staff_service.redeem_invite(session, code, telegram_id=telegram_id or hash(name) % 10**9,
                                             chat_id=telegram_id or hash(name) % 10**9, now=NOW)


async def new_complaint(session, n, **kwargs) -> Complaint:
    resident = await lifecycle.get_or_create_resident(
        session, lifecycle.ResidentProfile(telegram_id=500 + n, chat_id=500 + n, name=f"r{n}"))
    return await lifecycle.submit_complaint(
        session, resident=resident, classification=classification(**kwargs), draft_key=f"d{n}",
        tz=ZoneInfo("Asia/Shanghai"), now=NOW,
        data=ComplaintCreate(description=f"问题{n}", location="1栋", contact_phone="13812345678"))


async def file_recorded(session, engine, classifier, *, telegram_id: int):
    """A new resident files a cleaning complaint; the filing and the statements it sent."""
    from services.filing import MatterRules, file_complaint

    resident = await lifecycle.get_or_create_resident(
        session, lifecycle.ResidentProfile(telegram_id=telegram_id, chat_id=telegram_id, name="r"))
    with recorded(engine) as statements:
        filing = await file_complaint(
            session, resident=resident, classification=classification(Category.ENVIRONMENT),
            classifier=classifier, draft_key=f"{telegram_id}:a", tz=ZoneInfo("Asia/Shanghai"), sla=None,
            rules=MatterRules(), now=NOW,
            data=ComplaintCreate(description="垃圾没人清", location="1栋", contact_phone="13812345678"))
    return filing, statements


class TestTeams:
    async def test_seed_is_idempotent_and_maps_categories(self, sessions):
        async with sessions() as session:
            first = await staff_service.seed_teams(session)
            second = await staff_service.seed_teams(session)
            assert [t.code for t in first] == [t.code for t in second]
            assert (await staff_service.team_for_category(session, "工程管理")).code == "engineering"
            assert (await staff_service.team_for_category(session, "其他")).code == "service"
            with pytest.raises(staff_service.StaffError, match="unknown_team"):
                await staff_service.team_by_code(session, "nowhere")


class TestInvites:
    async def test_single_use_and_expiry(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            person, code = await staff_service.create_invite(session, name="张师傅", team_code="engineering", now=NOW)
            assert len(code) >= 24 and code not in str(person)
            bound_person = await staff_service.redeem_invite(session, code, telegram_id=1, chat_id=1, now=NOW)
            assert bound_person.telegram_id == 1
            with pytest.raises(staff_service.InviteError, match="invite_used"):
                await staff_service.redeem_invite(session, code, telegram_id=2, chat_id=2, now=NOW)
            _, late = await staff_service.create_invite(session, name="李", team_code="cleaning", now=NOW)
            with pytest.raises(staff_service.InviteError, match="invite_expired"):
                await staff_service.redeem_invite(session, late, telegram_id=3, chat_id=3, now=NOW + timedelta(days=4))
            with pytest.raises(staff_service.InviteError, match="invite_invalid"):
                await staff_service.redeem_invite(session, "x" * 24, telegram_id=3, chat_id=3, now=NOW)

    async def test_bad_requests(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            with pytest.raises(staff_service.StaffError, match="unknown_role"):
                await staff_service.create_invite(session, name="a", team_code="engineering", role="boss")
            with pytest.raises(staff_service.StaffError, match="team_required"):
                await staff_service.create_invite(session, name="a", team_code=None, role="staff")
            with pytest.raises(staff_service.StaffError, match="name_invalid"):
                await staff_service.create_invite(session, name="  ", team_code="engineering")


class TestRouting:
    async def test_fewest_open_then_longest_idle(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            a = await bound(session, "A", "engineering", telegram_id=11)
            b = await bound(session, "B", "engineering", telegram_id=12)
            order = []
            for n in range(4):
                complaint = await new_complaint(session, n)
                [ping] = await routing.dispatch(session, complaint.id, now=NOW + timedelta(minutes=n))
                order.append((await session.get(Staff, ping.recipient_id)).name)
            # both start with 0: A (never assigned, lower id) then B; then A again (idle longer), then B
            assert order == ["A", "B", "A", "B"]
            resolved = await new_complaint(session, 9)
            assert (await staff_service.route(session, resolved)).assignee.id in (a.id, b.id)

    async def test_urgent_pings_supervisor_flags_go_to_desks(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            await bound(session, "Sup", "engineering", "supervisor", telegram_id=21)
            await bound(session, "W", "engineering", telegram_id=22)
            urgent = await staff_service.route(session, await new_complaint(session, 1, severity=Severity.URGENT))
            assert urgent.assignee.name == "W" and urgent.notify_supervisor and urgent.supervisor.name == "Sup"
            general = await staff_service.route(session, await new_complaint(session, 2))
            assert not general.notify_supervisor
            hr = await staff_service.route(session, await new_complaint(session, 3, flags=[Flag.STAFF_REPORT]))
            audit = await staff_service.route(
                session, await new_complaint(session, 4, flags=[Flag.STAFF_REPORT, Flag.CUSTOMER_REPORT]))
            assert (hr.team.code, audit.team.code) == ("hr", "audit")

    async def test_supervisor_takes_it_when_alone_unreachable_skipped(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            sup = await bound(session, "Sup", "cleaning", "supervisor", telegram_id=31)
            worker = await bound(session, "W", "cleaning", telegram_id=32)
            worker.unreachable = True
            session.add(worker)
            await session.commit()
            routing = await staff_service.route(session, await new_complaint(session, 1, category=Category.ENVIRONMENT))
            assert routing.assignee.id == sup.id and not routing.notify_supervisor

    async def test_routing_reads_team_members_and_supervisor_in_one_query(self, sessions, engine):
        """Team, then its staff and supervisors together; managers and admins in one query."""
        async with sessions() as session:
            await staff_service.seed_teams(session)
            sup = await bound(session, "Sup", "engineering", "supervisor", telegram_id=51)
            await bound(session, "Sup2", "engineering", "supervisor", telegram_id=52)
            admin = await bound(session, "Adm", None, "admin", telegram_id=53)
            urgent = await new_complaint(session, 1, severity=Severity.URGENT)
            with recorded(engine) as statements:
                routed = await staff_service.route(session, urgent)
                assert len(statements) == 2
                # nobody but supervisors: the one with the lowest id takes it, and is the supervisor too
                assert routed.assignee.id == sup.id and routed.supervisor.id == sup.id and not routed.notify_supervisor
                statements.clear()
                assert [p.id for p in await routing.managers(session)] == [admin.id]  # no manager: the admins
                assert len(statements) == 1
            manager = await bound(session, "Mgr", None, "manager", telegram_id=54)
            assert [p.id for p in await routing.managers(session)] == [manager.id]

    async def test_removal_reassigns_open_tickets_in_one_go(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            a = await bound(session, "A", "engineering", telegram_id=41)
            b = await bound(session, "B", "engineering", telegram_id=42)
            complaint = await new_complaint(session, 1)
            [ping] = await routing.dispatch(session, complaint.id, now=NOW)
            assert ping.recipient_id == a.id
            person, notices = await routing.remove_staff(session, a.id, now=NOW)
            assert not person.active
            assert [(n.kind, n.recipient_id, n.complaint_id) for n in notices] == [
                (NoticeKind.ASSIGNED, b.id, complaint.id)]
            assert (await session.get(Complaint, complaint.id, populate_existing=True)).assignee_id == b.id
            with pytest.raises(staff_service.StaffError, match="no_staff"):
                await routing.remove_staff(session, a.id, now=NOW)


class TestTeamDirectory:
    """Routing reads the team table once and keeps it; a change of a team drops the copy."""

    async def test_kept_until_a_team_changes_in_this_process(self, sessions):
        directory = staff_service.TeamDirectory()
        async with sessions() as session:
            await staff_service.seed_teams(session)
            team = await staff_service.routing_team(session, "工程管理", directory=directory)
            assert team.code == "engineering" and directory.reads == 1
            assert (await staff_service.routing_team(session, "工程管理", directory=directory)) == team
            assert (await staff_service.routing_team(session, "其他", directory=directory)).code == "service"
            assert directory.reads == 1  # no second read
            # the console / CLI use case moves the category: the copy is dropped at the flush
            await staff_service.set_team(session, "service", categories=["其他", "工程管理"])
            assert (await staff_service.routing_team(session, "工程管理", directory=directory)).code == "service"
            assert directory.reads == 2

    async def test_other_processes_changes_are_seen_after_the_ttl(self, sessions, engine):
        now = [0.0]
        directory = staff_service.TeamDirectory(ttl=60, clock=lambda: now[0])
        async with sessions() as session:
            await staff_service.seed_teams(session)
            assert (await staff_service.routing_team(session, "环境管理", directory=directory)).code == "cleaning"
        # another process's change: plain SQL on another connection, unseen by this process's ORM
        async with engine.begin() as connection:
            await connection.exec_driver_sql("UPDATE team SET special = true WHERE code = 'cleaning'")
        async with sessions() as session:
            now[0] = 59
            assert (await staff_service.routing_team(session, "环境管理", directory=directory)).code == "cleaning"
            now[0] = 61
            assert (await staff_service.routing_team(session, "环境管理", directory=directory)).code == "service"

    async def test_flag_desks_and_unknown_desk(self, sessions):
        directory = staff_service.TeamDirectory()
        async with sessions() as session:
            await staff_service.seed_teams(session)
            hr = await staff_service.routing_team(session, "工程管理", [Flag.STAFF_REPORT.value], directory=directory)
            assert hr.code == staff_service.FLAG_DESKS[Flag.STAFF_REPORT.value]
        async with sessions() as session:
            # a bulk UPDATE of the table in this process drops the copy too
            await session.exec(update(Team).where(Team.code == hr.code).values(code="gone"))
            await session.commit()
            with pytest.raises(staff_service.StaffError, match="unknown_team"):
                await staff_service.routing_team(session, "工程管理", [Flag.STAFF_REPORT.value], directory=directory)

    async def test_filing_stores_the_team_with_the_row(self, sessions, engine, classifier):
        """The team is chosen before the INSERT: no UPDATE of the ticket when nobody takes it."""
        async with sessions() as session:
            await staff_service.seed_teams(session)
            filing, statements = await file_recorded(session, engine, classifier, telegram_id=900)
            environment = await staff_service.team_by_code(session, "cleaning")
            assert filing.complaint.team_id == environment.id
            assert not [s for s in statements if s.startswith("UPDATE complaint")]
            stored = await session.get(Complaint, filing.complaint.id, populate_existing=True)
            assert stored.team_id == environment.id and stored.assignee_id is None

    async def test_an_assigned_filing_stores_the_ticket_assigned(self, sessions, engine, classifier):
        """The person is chosen before the ticket is stored: status, team and assignee go in its
        INSERT (no UPDATE of the ticket after it), with the move's audit event as a transition writes it."""
        async with sessions() as session:
            await staff_service.seed_teams(session)
            worker = await bound(session, "清洁工", "cleaning", telegram_id=61)
            filing, statements = await file_recorded(session, engine, classifier, telegram_id=901)
            assert [s for s in statements if s.startswith("INSERT INTO complaint ")]
            assert not [s for s in statements if s.startswith("UPDATE complaint")]
            assert [(n.kind, n.recipient_id) for n in filing.notices] == [(NoticeKind.ASSIGNED, worker.id)]
        async with sessions() as session:
            stored = await session.get(Complaint, filing.complaint.id)
            cleaning = await staff_service.team_by_code(session, "cleaning")
            assert (stored.status, stored.team_id, stored.assignee_id) == ("assigned", cleaning.id, worker.id)
            assert stored.updated_at == NOW
            events = (await session.exec(select(ComplaintEvent).where(
                ComplaintEvent.complaint_id == stored.id).order_by(ComplaintEvent.id))).all()
            assert [(e.action, e.from_status, e.to_status) for e in events] == [
                ("created", None, "new"), ("assign", "new", "assigned")]
            assert events[1].data == {"team": cleaning.name, "team_code": "cleaning", "assignee": "清洁工", "by": None}

    async def test_nobody_free_leaves_it_new_in_the_teams_queue(self, sessions, engine, classifier):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            sup = await bound(session, "Sup", "engineering", "supervisor", telegram_id=62)  # another team's
            filing, statements = await file_recorded(session, engine, classifier, telegram_id=902)
            assert not [s for s in statements if s.startswith("UPDATE complaint")]
            assert sup.id not in {n.recipient_id for n in filing.notices}
        async with sessions() as session:
            stored = await session.get(Complaint, filing.complaint.id)
            cleaning = await staff_service.team_by_code(session, "cleaning")
            assert (stored.status, stored.team_id, stored.assignee_id) == ("new", cleaning.id, None)
            actions = (await session.exec(select(ComplaintEvent.action).where(
                ComplaintEvent.complaint_id == stored.id).order_by(ComplaintEvent.id))).all()
            assert actions == ["created", "queue"]

    async def test_the_supervisor_hears_of_a_ticket_that_becomes_major_with_its_matter(self, sessions, classifier):
        """Routed before it is stored, and so before it is made major with the others of its matter:
        the supervisor's copy still goes out for it (why: major)."""
        from services.filing import MatterRules, file_complaint

        async with sessions() as session:
            await staff_service.seed_teams(session)
            worker = await bound(session, "工程甲", "engineering", telegram_id=71)
            sup = await bound(session, "Sup", "engineering", "supervisor", telegram_id=72)
        text = "电梯按钮不亮了"  # general, no flag: major only as the third resident's report
        filings = []
        for n in range(3):
            async with sessions() as session:
                resident = await lifecycle.get_or_create_resident(session, lifecycle.ResidentProfile(
                    telegram_id=3000 + n, chat_id=3000 + n, name=f"住户{n}"))
                filings.append(await file_complaint(
                    session, resident=resident, classification=classifier.classify(text), classifier=classifier,
                    data=ComplaintCreate(description=text, location="3栋2单元", contact_phone="13812345678"),
                    draft_key=f"{resident.telegram_id}:d", tz=ZoneInfo("Asia/Shanghai"), sla=None,
                    rules=MatterRules(), now=NOW))
        first, third = filings[0], filings[-1]
        assert not first.major_ids and len(third.major_ids) == 3
        watch = [n for n in third.notices if n.kind == NoticeKind.SUPERVISOR_WATCH]
        assert [(n.recipient_id, n.complaint_id, n.params) for n in watch] == [
            (sup.id, third.complaint.id, {"why": "major"})]
        assert (NoticeKind.ASSIGNED, worker.id) in {(n.kind, n.recipient_id) for n in third.notices}
        assert not [n for n in first.notices if n.kind == NoticeKind.SUPERVISOR_WATCH]


@pytest.mark.postgres
class TestConcurrentFilings:
    """On PostgreSQL a filing holds the day's counter for one statement and only its own team's
    routing lock: filings of other teams go through while it is still under way."""

    async def test_a_filing_paused_in_its_routing_blocks_only_its_own_team(self, classifier):
        import asyncio

        from models.db import create_engine, session_factory, upgrade
        from services.filing import MatterRules, file_complaint
        from tests.conftest import POSTGRES_URL, require_service, reset_postgres

        require_service("postgres", POSTGRES_URL, 5432)
        await reset_postgres(POSTGRES_URL)
        await upgrade(POSTGRES_URL)
        engine = create_engine(POSTGRES_URL)
        sessions = session_factory(engine)
        paused, release = asyncio.Event(), asyncio.Event()
        choose = staff_service.route

        async def route_pausing_the_first(session, complaint, **kwargs):
            if complaint.description == "first" and not release.is_set():
                paused.set()  # the team's routing lock is held from here to the commit
                await release.wait()
            return await choose(session, complaint, **kwargs)

        async def filing(n: int, category: Category, description: str):
            async with sessions() as session:
                resident = await lifecycle.get_or_create_resident(
                    session, lifecycle.ResidentProfile(telegram_id=700 + n, chat_id=700 + n, name=f"r{n}"))
                return await file_complaint(
                    session, resident=resident, classification=classification(category), classifier=classifier,
                    draft_key=f"{700 + n}:a", tz=ZoneInfo("Asia/Shanghai"), sla=None, rules=MatterRules(), now=NOW,
                    data=ComplaintCreate(description=description, location=f"{n}栋", contact_phone="13812345678"))

        try:
            async with sessions() as session:
                await staff_service.seed_teams(session)
            staff_service.route = route_pausing_the_first
            first = asyncio.create_task(filing(1, Category.ENGINEERING, "first"))
            await asyncio.wait_for(paused.wait(), 30)
            # another team, numbered and routed while the first is still in its transaction
            other = await asyncio.wait_for(filing(2, Category.ENVIRONMENT, "垃圾没人清"), 30)
            same_team = asyncio.create_task(filing(3, Category.ENGINEERING, "水管漏水"))
            done, _ = await asyncio.wait({same_team}, timeout=0.5)
            assert not done  # the same team waits for the first's decision
            release.set()
            first_filing, third = await asyncio.wait_for(asyncio.gather(first, same_team), 30)
            numbers = sorted(f.complaint.number for f in (first_filing, other, third))
            assert numbers == ["TS20261125-0001", "TS20261125-0002", "TS20261125-0003"]
            assert other.complaint.number == "TS20261125-0002"  # it did not wait for the first
        finally:
            staff_service.route = choose
            release.set()
            await engine.dispose()
