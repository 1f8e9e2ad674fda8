"""The data layer on SQLite and PostgreSQL: migrations, numbering, submission, events, transitions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from sqlalchemy import update

from models.db import StatusOutsideTheDoor, create_engine, writing
from models.tables import Complaint, ComplaintCreate, ComplaintEvent, Resident
from services import lifecycle
from services.domain import Status
from services.errors import DeskError
from services.numbering import format_number, next_ticket_number

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def make_resident(sessions, telegram_id: int = 1001, name: str = "张三") -> Resident:
    async with sessions() as session:
        return await lifecycle.get_or_create_resident(
            session, lifecycle.ResidentProfile(telegram_id=telegram_id, chat_id=telegram_id, name=name)
        )


NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


async def submit(sessions, resident, classifier, *, text="3栋电梯坏了", draft="d1", now=NOW, anonymous=False):
    async with sessions() as session:
        return await lifecycle.submit_complaint(
            session,
            resident=resident,
            data=ComplaintCreate(
                description=text, location="3栋2单元", anonymous=anonymous,
                contact_name=None if anonymous else "张先生",
                contact_phone=None if anonymous else "13812345678",
                photos=["photo-1"],
            ),
            classification=classifier.classify(text),
            draft_key=f"{resident.telegram_id}:{draft}",
            tz=SHANGHAI,
            now=now,
        )


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from models.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class TestMigrations:
    async def test_schema_is_created_by_alembic(self, engine):
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert {"resident", "complaint", "complaint_event", "ticket_counter", "fsm_record"} <= tables
        assert version == head_revision()

    async def test_upgrade_twice_is_harmless(self, database_url, engine):
        from models.db import upgrade

        await upgrade(database_url)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1


class TestNumbering:
    async def test_sequence_per_local_day(self, sessions):
        # 23:30 UTC on the 24th is already the 25th in Shanghai.
        late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
        async with sessions() as session:
            first = await next_ticket_number(session, now=late, tz=SHANGHAI)
            second = await next_ticket_number(session, now=late, tz=SHANGHAI)
            other_day = await next_ticket_number(session, now=late - timedelta(hours=8), tz=SHANGHAI)
            await session.commit()
        assert (first, second) == ("TS20261125-0001", "TS20261125-0002")
        assert other_day == "TS20261124-0001"

    def test_format_widens(self):
        assert format_number("20261125", 12345) == "TS20261125-12345"

    async def test_concurrent_submissions_get_distinct_numbers(self, sessions, classifier):
        residents = [await make_resident(sessions, 2000 + i, f"住户{i}") for i in range(20)]
        now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
        complaints = await asyncio.gather(
            *(submit(sessions, r, classifier, draft=f"c{i}", now=now) for i, r in enumerate(residents))
        )
        numbers = sorted(c.number for c in complaints)
        assert numbers == [f"TS20261125-{i:04d}" for i in range(1, 21)]


class TestSubmission:
    async def test_stores_classification_contact_and_event(self, sessions, classifier):
        resident = await make_resident(sessions)
        complaint = await submit(sessions, resident, classifier)
        async with sessions() as session:
            stored = await session.get(Complaint, complaint.id)
            events = (await session.exec(select(ComplaintEvent))).all()
            refreshed = await session.get(Resident, resident.id)
        assert stored.status == Status.NEW
        assert stored.category and stored.kind and stored.severity
        assert stored.photos == ["photo-1"]
        assert stored.created_at.tzinfo is not None
        assert refreshed.phone == "13812345678"
        assert [(e.action, e.to_status, e.actor_id) for e in events] == [("created", "new", 1001)]

    async def test_double_submit_of_one_draft_is_one_ticket(self, sessions, classifier):
        resident = await make_resident(sessions)
        first = await submit(sessions, resident, classifier, draft="same")
        with pytest.raises(lifecycle.DuplicateSubmission) as caught:
            await submit(sessions, resident, classifier, draft="same")
        assert caught.value.complaint.number == first.number
        async with sessions() as session:
            assert len((await session.exec(select(Complaint))).all()) == 1

    async def test_filing_the_same_draft_again_is_a_repeat_not_a_merge(self, sessions, classifier):
        """A submission handled again (the process died before the resident was told) finds its own
        ticket: nothing stored, nothing merged into itself, no ping twice."""
        from services.filing import MatterRules, file_complaint
        from services.staff import seed_teams

        resident = await make_resident(sessions)
        async with sessions() as session:
            await seed_teams(session)
        text = "3栋电梯坏了"

        async def file(draft: str):
            async with sessions() as session:
                return await file_complaint(
                    session, resident=resident, classification=classifier.classify(text), classifier=classifier,
                    data=ComplaintCreate(description=text, location="3栋2单元", contact_phone="13812345678"),
                    draft_key=f"{resident.telegram_id}:{draft}", tz=SHANGHAI, sla=None, rules=MatterRules(), now=NOW)

        async def stored():
            async with sessions() as session:
                return ((await session.exec(select(ComplaintEvent.action).order_by(ComplaintEvent.id))).all(),
                        len((await session.exec(select(Complaint))).all()))

        first = await file("d1")
        before = await stored()
        with pytest.raises(lifecycle.DuplicateSubmission) as caught:
            await file("d1")
        assert caught.value.complaint.id == first.complaint.id
        assert await stored() == before  # nothing written, "merged" not recorded
        assert (await file("d2")).merged  # another draft on the same matter is merged, as before
        events, tickets = await stored()
        assert events[-1] == "merged" and tickets == 1

    async def test_a_third_resident_on_one_matter_files_a_major_in_few_statements(self, sessions, engine, classifier):
        """Filing the report that makes a matter major (3 residents): ticket, assignment, major on
        all three, the owner, the pings — with the audit events and the notices each stored by one
        INSERT at the commit, the managers and the major's owner read in one query, the team from
        the kept team table, the ticket stored assigned (no UPDATE of it for the assignment)."""
        from contextlib import nullcontext

        from models.tables import OutboxNotice
        from services import staff as staff_service
        from services.filing import MatterRules, file_complaint
        from tests.statements import recorded

        async with sessions() as session:
            await staff_service.seed_teams(session)
            for name, team, role, tid in (("工程甲", "engineering", "staff", 61), ("经理", None, "manager", 62)):
                person, code = await staff_service.create_invite(session, name=name, team_code=team, role=role, now=NOW)
                await staff_service.redeem_invite(session, code, telegram_id=tid, chat_id=tid, now=NOW)
        text = "3栋电梯坏了，困在里面"
        filings = []
        for n in range(3):
            resident = await make_resident(sessions, telegram_id=2000 + n, name=f"住户{n}")
            with recorded(engine) if n == 2 else nullcontext([]) as statements:  # the third filing's
                async with sessions() as session:
                    filings.append(await file_complaint(
                        session, resident=resident, classification=classifier.classify(text), classifier=classifier,
                        data=ComplaintCreate(description=text, location="3栋2单元", contact_phone="13812345678"),
                        draft_key=f"{resident.telegram_id}:d", tz=SHANGHAI, sla=None, rules=MatterRules(), now=NOW))
        third = filings[-1]
        assert len(third.major_ids) == 3 and not third.merged
        assert sum("FROM staff" in s for s in statements) == 2  # candidates; managers and the owner in one
        assert not [s for s in statements if "FROM team" in s]  # read by the first filing, kept
        if engine.dialect.name == "postgresql":  # SQLite's driver inserts the rows one by one
            inserts = [s for s in statements if s.startswith("INSERT INTO complaint_event")]
            outbox_inserts = [s for s in statements if s.startswith("INSERT INTO outbox")]
            assert len(inserts) == 1 and len(outbox_inserts) == 1
            assert len(statements) == 11, statements
            # the three made major, their owner; the third stored assigned by its INSERT
            changes = [s for s in statements if s.startswith("UPDATE complaint")]
            assert len(changes) == 2 and not [s for s in changes if "status=" in s or "assignee_id=" in s]
        async with sessions() as session:
            tickets = (await session.exec(select(Complaint).order_by(Complaint.id))).all()
            assert all(t.major and t.major_at is not None and t.related_to_id == tickets[0].id for t in tickets)
            assert tickets[2].assignee_id is not None and tickets[2].status == "assigned"
            actions = (await session.exec(select(ComplaintEvent.action).where(
                ComplaintEvent.complaint_id == third.complaint.id).order_by(ComplaintEvent.id))).all()
            assert actions == ["created", "assign", "major", "major_owner"]
            kinds = sorted((await session.exec(select(OutboxNotice.kind).where(
                OutboxNotice.complaint_id.in_(third.major_ids)))).all())
            assert kinds.count("major_alert") == 1

    async def test_anonymous_keeps_no_contact(self, sessions, classifier):
        resident = await make_resident(sessions)
        complaint = await submit(sessions, resident, classifier, anonymous=True)
        assert complaint.anonymous and complaint.contact_phone is None

    async def test_datetimes_round_trip_as_utc(self, sessions, classifier):
        resident = await make_resident(sessions)
        moment = datetime(2026, 11, 25, 9, 30, tzinfo=timezone(timedelta(hours=8)))
        complaint = await submit(sessions, resident, classifier, now=moment)
        async with sessions() as session:
            stored = await session.get(Complaint, complaint.id)
        assert stored.created_at == moment and stored.created_at.utcoffset() == timedelta(0)


class TestResidentScope:
    async def test_lookup_is_limited_to_own_tickets(self, sessions, classifier):
        alice, bob = await make_resident(sessions, 1, "Alice"), await make_resident(sessions, 2, "Bob")
        ticket = await submit(sessions, alice, classifier)
        async with sessions() as session:
            assert (await lifecycle.get_for_resident(session, alice, ticket.number.lower())).id == ticket.id
            assert await lifecycle.get_for_resident(session, bob, ticket.number) is None
            assert [t.number for t in await lifecycle.list_for_resident(session, alice)] == [ticket.number]
            assert await lifecycle.list_for_resident(session, bob) == []
            assert await lifecycle.last_location(session, alice) == "3栋2单元"

    async def test_profile_refresh(self, sessions):
        await make_resident(sessions, 7, "Old")
        again = await make_resident(sessions, 7, "New")
        assert again.name == "New"
        async with sessions() as session:
            assert len((await session.exec(select(Resident))).all()) == 1


class TestTransitions:
    """Every status change goes through lifecycle.transition, which writes the audit event with it."""

    async def test_valid_path_logs_every_change(self, sessions, classifier):
        resident = await make_resident(sessions)
        complaint = await submit(sessions, resident, classifier)
        actor = lifecycle.Actor("staff", 9)
        async with sessions() as session:
            complaint = await session.get(Complaint, complaint.id)
            for status in (Status.ASSIGNED, Status.ACCEPTED, Status.RESOLVED, Status.CLOSED):
                async with writing(session):
                    await lifecycle.transition(session, complaint, status, actor=actor, now=NOW, note=status.value)
                    await session.commit()
            events = await lifecycle.events_of(session, complaint)
        assert [(e.from_status, e.to_status) for e in events[1:]] == [
            ("new", "assigned"), ("assigned", "accepted"), ("accepted", "resolved"), ("resolved", "closed"),
        ]
        assert complaint.resolved_at is not None and complaint.closed_at is not None

    async def test_invalid_transition_changes_nothing(self, sessions, classifier):
        resident = await make_resident(sessions)
        ticket_id = (await submit(sessions, resident, classifier)).id
        async with sessions() as session:
            complaint = await session.get(Complaint, ticket_id)
            with pytest.raises(DeskError, match="status_not_allowed"):
                async with writing(session):
                    await lifecycle.transition(session, complaint, Status.CLOSED, actor=lifecycle.Actor.system(),
                                               now=NOW)
        async with sessions() as session:
            row = await session.get(Complaint, ticket_id)
            assert row.status == "new"
            assert len(await lifecycle.events_of(session, row)) == 1

    async def test_a_change_seen_twice_happens_once(self, sessions, classifier):
        """Two handlers (or a retried update) acting on the same old view: the second finds the row
        moved on and changes nothing."""
        resident = await make_resident(sessions)
        complaint = await submit(sessions, resident, classifier)
        async with sessions() as first, sessions() as second:
            mine = await first.get(Complaint, complaint.id)
            theirs = await second.get(Complaint, complaint.id)
            async with writing(first):
                await lifecycle.transition(first, mine, Status.ASSIGNED, actor=lifecycle.Actor.system(), now=NOW)
                await first.commit()
            with pytest.raises(DeskError, match="ticket_changed"):
                async with writing(second):
                    await lifecycle.transition(second, theirs, Status.INVALID, actor=lifecycle.Actor.system(),
                                               now=NOW)
        async with sessions() as session:
            assert (await session.get(Complaint, complaint.id)).status == "assigned"
            assert [e.to_status for e in await lifecycle.events_of(session, complaint)] == ["new", "assigned"]

    @pytest.mark.parametrize("how", ["attribute", "update"])
    async def test_status_cannot_change_outside_the_door(self, sessions, classifier, how):
        """Assigning complaint.status or UPDATE-ing the column anywhere else is refused by the database layer."""
        resident = await make_resident(sessions)
        complaint = await submit(sessions, resident, classifier)
        async with sessions() as session:
            row = await session.get(Complaint, complaint.id)
            with pytest.raises(StatusOutsideTheDoor):
                async with writing(session):
                    if how == "attribute":
                        row.status = Status.CLOSED.value
                        session.add(row)
                        await session.flush()
                    else:
                        await session.exec(update(Complaint).where(Complaint.id == row.id).values(status="closed"))
        async with sessions() as session:
            assert (await session.get(Complaint, complaint.id)).status == "new"

    async def test_event_log_is_append_only(self, sessions, classifier):
        resident = await make_resident(sessions)
        await submit(sessions, resident, classifier)
        async with sessions() as session:
            event = (await session.exec(select(ComplaintEvent))).one()
            event.note = "rewritten history"
            session.add(event)
            with pytest.raises(PermissionError):
                await session.commit()


class TestDowngrade:
    async def test_down_to_base_and_up_again(self, database_url):
        from models.db import upgrade_sync

        await asyncio.to_thread(_downgrade, database_url, "base")
        await asyncio.to_thread(upgrade_sync, database_url, "head")
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        finally:
            await engine.dispose()
        assert version == head_revision()


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    from models.db import alembic_config

    command.downgrade(alembic_config(url), revision)


@pytest.mark.postgres
async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout():
    """No ping per checkout, yet a connection PostgreSQL dropped is never handed out."""
    import asyncio

    from sqlalchemy import text

    from models.db import create_engine
    from tests.conftest import POSTGRES_URL, require_service
    from tests.statements import recorded

    require_service("postgres", POSTGRES_URL, 5432)
    engine = create_engine(POSTGRES_URL, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        other = create_engine(POSTGRES_URL)
        async with other.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await other.dispose()
        await asyncio.sleep(0.3)  # the event loop sees the socket closed
        with recorded(engine) as statements:
            async with engine.connect() as connection:
                again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != pid
        assert statements == ["SELECT pg_backend_pid()"]  # no ping round trip
    finally:
        await engine.dispose()


async def test_fresh_transaction_commits_first_unless_the_postgres_transaction_only_read(sessions, engine):
    """On PostgreSQL (READ COMMITTED) a transaction that only read goes on as the write transaction
    (no COMMIT + BEGIN); one that wrote, took a lock or has changes pending is committed first, as
    is every transaction on SQLite (BEGIN IMMEDIATE)."""
    from sqlalchemy import event

    from models.db import fresh_transaction

    commits = []

    def committed(_conn) -> None:
        commits.append(1)

    event.listen(engine.sync_engine, "commit", committed)
    postgres = engine.dialect.name == "postgresql"
    try:
        async with sessions() as session:
            await session.exec(select(Resident))
            await fresh_transaction(session)
            assert len(commits) == (0 if postgres else 1)
            session.add(Resident(telegram_id=77, chat_id=77, name="甲"))  # pending
            await fresh_transaction(session)
            assert len(commits) == (1 if postgres else 2)
            await session.exec(update(Resident).where(Resident.telegram_id == 77).values(name="乙"))  # wrote
            await fresh_transaction(session)
            assert len(commits) == (2 if postgres else 3)
            if postgres:
                await session.exec(text("SELECT pg_advisory_xact_lock(42)"))  # a lock until the commit
                await fresh_transaction(session)
                assert len(commits) == 3
                await session.exec(select(Resident).with_for_update())
                await fresh_transaction(session)
                assert len(commits) == 4
            await session.commit()
    finally:
        event.remove(engine.sync_engine, "commit", committed)


class TestTableDefaults:
    def test_every_row_gets_its_own_empty_lists_and_dicts(self):
        first = Complaint(description="a", location="b")
        second = Complaint(description="a", location="b")
        first.photos.append("x")
        first.flags.append("media")
        event = ComplaintEvent(complaint_id=1, action="created", actor="resident")
        event.data["k"] = 1
        assert second.photos == [] and second.flags == [] and second.keywords == []
        assert ComplaintEvent(complaint_id=1, action="created", actor="resident").data == {}

    def test_no_column_default_is_a_builtin_factory(self):
        """pydantic asks ``inspect.signature`` of a missing field's factory for every row it builds;
        for ``list``/``dict`` that parses their text signature (0.1 ms each, most of a Complaint's
        construction), for a plain function it is cheap."""
        from models import tables

        models = [value for value in vars(tables).values()
                  if isinstance(value, type) and getattr(value, "__table__", None) is not None
                  and hasattr(value, "model_fields")]
        assert Complaint in models and ComplaintEvent in models
        builtin = [(model.__name__, name) for model in models for name, field in model.model_fields.items()
                   if field.default_factory in (list, dict, set, tuple)]
        assert builtin == []


async def test_an_update_built_once_sets_what_it_is_sent_with_each_time(sessions, engine):
    """``set_clause``/``set_values``: one UPDATE, built once, writes the values of each execution;
    its SQL names the columns it sets (what the guard of ``complaint.status`` reads)."""
    from sqlalchemy import bindparam

    from models.db import set_clause, set_values

    statement = update(Resident).where(Resident.telegram_id == bindparam("person")).values(
        set_clause(["name", "phone"])).execution_options(synchronize_session=False)
    async with sessions() as session:
        session.add(Resident(telegram_id=78, chat_id=78, name="甲"))
        await session.commit()
        for name, phone in (("乙", "13800000001"), ("丙", None)):
            result = await session.exec(statement, params={"person": 78, **set_values({"name": name, "phone": phone})})
            assert result.rowcount == 1
            assert (await session.exec(select(Resident.name, Resident.phone)
                                       .where(Resident.telegram_id == 78))).one() == (name, phone)
        await session.commit()
    sql = str(statement.compile(dialect=engine.dialect))
    assert "SET name=" in sql and ", phone=" in sql
    assert set(set_values({"name": "丁"})) == {param.key for param in set_clause(["name"]).values()}
