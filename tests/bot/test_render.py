"""bot.render: a notice's recipient, language and text (a staff ping's card, a resident's note), read
with as few queries as they need."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import DEFAULT_LOCALE, catalogues
from bot.render import Renderer, resident_and_ticket, staff_and_locale, staff_locale_and_ticket
from bot.settings import Settings
from models.db import fresh_transaction
from models.tables import ComplaintCreate, OutboxNotice, Resident, Staff
from services import lifecycle, routing
from services import staff as staff_service
from services.classify import Classification
from services.domain import Category, Kind, Severity
from tests.statements import recorded

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


async def bound(session, name: str, telegram_id: int | None, team: str = "engineering") -> Staff:
    person, code = await staff_service.create_invite(session, name=name, team_code=team, now=NOW)
    if telegram_id is None:
        return person
    return await staff_service.redeem_invite(session, code, telegram_id=telegram_id, chat_id=telegram_id, now=NOW)


async def own_account(session, telegram_id: int, *, locale=None, language_code=None) -> None:
    """The Resident row of a member of staff's own Telegram account (they wrote to the bot)."""
    session.add(Resident(telegram_id=telegram_id, chat_id=telegram_id, name="x", locale=locale,
                         language_code=language_code))
    await session.commit()


class TestStaffAndLocale:
    @pytest.mark.parametrize("locale, language_code, expected", [
        ("en", "zh-hans", "en"),  # chosen with /lang
        (None, "zh-hant", "zh_Hant"),  # Telegram's language
        (None, None, DEFAULT_LOCALE),
    ])
    async def test_the_language_of_their_own_account(self, sessions, locale, language_code, expected):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            person = await bound(session, "张师傅", 71)
            await own_account(session, 71, locale=locale, language_code=language_code)
        async with sessions() as session:
            found, read = await staff_and_locale(session, person.id)
            assert (found.id, found.name, read) == (person.id, "张师傅", expected)

    async def test_no_account_row_or_not_bound_reads_the_default(self, sessions):
        async with sessions() as session:
            await staff_service.seed_teams(session)
            never_wrote = await bound(session, "李师傅", 72)
            unbound = await bound(session, "王师傅", None)
            await own_account(session, 73, locale="en")  # somebody else's account
        async with sessions() as session:
            assert (await staff_and_locale(session, never_wrote.id))[1] == DEFAULT_LOCALE
            person, locale = await staff_and_locale(session, unbound.id)
            assert person.telegram_id is None and locale == DEFAULT_LOCALE
            assert await staff_and_locale(session, 999_999) == (None, DEFAULT_LOCALE)


async def assigned_ping(sessions, telegram_id: int = 74, locale: str = "en"):
    """A ticket assigned to 张师傅 (bound as ``telegram_id``, writing in ``locale``): (complaint, ping)."""
    async with sessions() as session:
        await staff_service.seed_teams(session)
        await bound(session, "张师傅", telegram_id)
        await own_account(session, telegram_id, locale=locale)
        resident = await lifecycle.get_or_create_resident(
            session, lifecycle.ResidentProfile(telegram_id=600, chat_id=600, name="r"))
        complaint = await lifecycle.submit_complaint(
            session, resident=resident, draft_key="600:a", tz=ZoneInfo("Asia/Shanghai"), now=NOW,
            classification=Classification(category=Category.ENGINEERING, kind=Kind.COMPLAINT,
                                          severity=Severity.GENERAL, confidence=0.9, keywords=(),
                                          flags=frozenset()),
            data=ComplaintCreate(description="电梯坏了", location="3栋", contact_phone="13812345678"))
        [ping] = await routing.dispatch(session, complaint.id, now=NOW)
        await staff_service.TEAMS.teams(session)  # the team table is kept, as after any filing
    return complaint, ping


class TestAssignedPing:
    async def test_card_in_the_assignee_language_from_one_query(self, sessions, engine):
        """The recipient with their language and the ticket in one statement: the team comes from
        the kept team table and the assignee (the recipient) from the session."""
        complaint, ping = await assigned_ping(sessions)
        renderer = Renderer(Settings(bot_token="1:render", _env_file=None), catalogues())
        row = OutboxNotice(kind=ping.kind.value, audience=ping.audience.value, recipient_id=ping.recipient_id,
                           complaint_id=ping.complaint_id, params=dict(ping.params), created_at=NOW, due_at=NOW)
        with recorded(engine) as statements:
            async with sessions() as session:
                rendered = await renderer.render(session, row)
        assert rendered.chat_id == 74 and rendered.locale == "en"
        [(card, buttons)] = rendered.texts
        assert complaint.number in card and "张师傅" in card and "Engineering" in card
        assert buttons is not None
        assert len(statements) == 1, statements
        assert statements[0].startswith("SELECT staff.") and "JOIN resident" in statements[0]
        assert "JOIN complaint" in statements[0]

    async def test_the_ticket_comes_with_the_recipient_or_not_at_all(self, sessions):
        complaint, ping = await assigned_ping(sessions)
        async with sessions() as session:
            person, locale, ticket = await staff_locale_and_ticket(session, ping.recipient_id, complaint.id)
            assert (person.name, locale, ticket.number) == ("张师傅", "en", complaint.number)
            assert await staff_locale_and_ticket(session, ping.recipient_id, 999_999) == (person, "en", None)
            assert await staff_locale_and_ticket(session, 999_999, complaint.id) == (None, DEFAULT_LOCALE, None)

    async def test_a_removed_recipient_gets_nothing(self, sessions):
        """A member of staff made inactive since the notice was stored: nobody to send it to."""
        complaint, ping = await assigned_ping(sessions)
        async with sessions() as session:
            await fresh_transaction(session)
            person = await session.get(Staff, ping.recipient_id)
            person.active = False
            await session.commit()
        renderer = Renderer(Settings(bot_token="1:render", _env_file=None), catalogues())
        row = OutboxNotice(kind=ping.kind.value, audience=ping.audience.value, recipient_id=ping.recipient_id,
                           complaint_id=ping.complaint_id, params=dict(ping.params), created_at=NOW, due_at=NOW)
        async with sessions() as session:
            assert await renderer.render(session, row) is None


class TestResidentNotice:
    async def test_the_resident_and_the_ticket_from_one_query(self, sessions, engine):
        """A note forwarded to the resident: who they are, their language and the ticket, one statement."""
        complaint, _ping = await assigned_ping(sessions)
        async with sessions() as session:
            await fresh_transaction(session)
            resident = await session.get(Resident, complaint.resident_id)
            resident.locale = "en"
            await session.commit()
        renderer = Renderer(Settings(bot_token="1:render", _env_file=None), catalogues())
        row = OutboxNotice(kind="note", audience="resident", recipient_id=complaint.resident_id,
                           complaint_id=complaint.id, params={"note": "明天上午来修"}, created_at=NOW, due_at=NOW)
        with recorded(engine) as statements:
            async with sessions() as session:
                rendered = await renderer.render(session, row)
        assert rendered.chat_id == 600 and rendered.locale == "en"
        [(text, _buttons)] = rendered.texts
        assert complaint.number in text and "明天上午来修" in text
        assert len(statements) == 1, statements
        assert statements[0].startswith("SELECT resident.") and "JOIN complaint" in statements[0]

    async def test_the_ticket_comes_with_the_resident_or_not_at_all(self, sessions):
        complaint, _ping = await assigned_ping(sessions)
        async with sessions() as session:
            resident, ticket = await resident_and_ticket(session, complaint.resident_id, complaint.id)
            assert (resident.telegram_id, ticket.number) == (600, complaint.number)
            assert await resident_and_ticket(session, complaint.resident_id, 999_999) == (resident, None)
            assert await resident_and_ticket(session, 999_999, complaint.id) == (None, None)
