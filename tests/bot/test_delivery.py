"""The delivery worker against the sandbox: a staff ping claimed, rendered, sent and marked sent —
on PostgreSQL each of those one statement on its own, no transaction around any of them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import build_bot
from bot.delivery import DeliveryWorker
from bot.i18n import catalogues
from bot.render import Renderer
from bot.sender import Sender, install_rate_limiter
from bot.settings import Settings
from models.tables import OutboxNotice
from sandbox import SandboxClient
from services.satisfaction import CallbackPolicy
from tests.bot.test_render import NOW, assigned_ping
from tests.statements import simple_queries

TOKEN = "123456:TEST-delivery-token"


@pytest.fixture
async def worker(sandbox, sessions):
    settings = Settings(bot_token=TOKEN, telegram_api_base=sandbox.base_url, _env_file=None)
    bot = build_bot(settings)
    install_rate_limiter(bot)
    yield DeliveryWorker(sessions, Sender(bot), Renderer(settings, catalogues()),
                         policy=CallbackPolicy.from_settings(settings), clock=lambda: NOW)
    await bot.session.close()


class TestAssignedPing:
    async def test_sent_and_marked_without_a_transaction_around_it(self, sandbox, sessions, engine, worker):
        complaint, _ping = await assigned_ping(sessions, telegram_id=74, locale="en")
        async with SandboxClient(sandbox.base_url) as client:
            assignee = client.user(74, first_name="张师傅")
            await assignee.send("/start")  # the chat exists, as for a bound member of staff
            with simple_queries() as queries:
                await worker.flush(timeout=10)
            card = await assignee.expect(complaint.number)
        assert "Engineering" in card.text
        async with sessions() as session:
            [row] = (await session.exec(select(OutboxNotice))).all()
        assert (row.state, row.tries, row.message_id) == ("sent", 1, card.message_id)
        if engine.dialect.name == "postgresql":
            # the claim, the card's two reads, the mark and the final count went alone
            assert queries == []
