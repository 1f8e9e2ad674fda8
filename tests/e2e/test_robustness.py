"""Hostile or broken input never stops the bot: unreadable updates, messages without a sender,
forged buttons with out-of-range numbers, a change handled twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.tables import CallbackRound, Complaint, ComplaintEvent, Staff
from services import handling
from services.errors import DeskError
from tests.e2e.callbacks_fast import FAST
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import TICKET, file_complaint, onboard, text, wait_for

pytestmark = pytest.mark.e2e
HUGE = "99999999999999999999"


class TestUnreadableUpdates:
    async def test_one_bad_update_is_skipped_and_the_others_answered(self, bot_app, client, resident):
        bad = await client.raw_update({"message": {"message_id": "not a number", "chat": "nonsense"}})
        await resident.send("/start")
        greeting = await resident.next_message(timeout=15)
        assert "物业客服中心" in greeting.text

        async def none_pending() -> bool:  # the batch is confirmed by the next getUpdates, right after it was handled
            return (await client.stats())["pending_updates"] == 0

        assert await wait_for(none_pending, timeout=5, interval=0.05)  # the bad one was confirmed too, not stuck
        assert bad > 0

    async def test_a_private_message_without_a_sender_is_ignored(self, bot_app, client, resident):
        await client.raw_update({"message": {"message_id": 1, "date": 1796220000, "text": "hi",
                                             "chat": {"id": resident.id, "type": "private"}}})
        await resident.send("/help")
        help_text = await resident.next_message(timeout=15)
        assert "/new" in help_text.text
        assert all(text("internal_error") not in (m.text or "") for m in await resident.messages())


class TestForgedButtons:
    @pytest.mark.parametrize("data", [f"st:acc:{HUGE}", f"cb:{HUGE}:5", f"cb:1:{HUGE}", f"ai:{HUGE}", "cc:-1"])
    async def test_out_of_range_numbers_are_no_longer_valid(self, bot_app, client, resident, data):
        await resident.send("/start")
        menu = await resident.next_message()
        answer = await resident.callback_answer(await resident.press_data(menu.message_id, data))
        assert answer.text == text("stale_button")


class TestIdempotence:
    async def test_the_same_resolve_handled_twice_resolves_once(self, sandbox, client, sqlite_url, classifier):
        async with running_app(make_settings(sandbox, sqlite_url, **{**FAST, "callback_delay": "1h"}),
                               classifier) as app:
            worker = await onboard(app, client, 9601, "张师傅", "engineering")
            resident = client.user(5601, first_name="王芳", phone="13812345678")
            number = await file_complaint(resident, "3栋电梯坏了")
            await worker.expect(number)
            await worker.send(f"/accept {number}")
            await worker.expect("已接单")
            async with app.sessions() as session:
                complaint = (await session.exec(select(Complaint).where(Complaint.number == number))).one()
                person = await session.get(Staff, worker.staff_id)

            async def resolve() -> str:
                async with app.sessions() as session:
                    try:
                        await handling.resolve(session, complaint.id, person, "已修好",
                                               policy=app.worker.policy, now=app.clock())
                        return "resolved"
                    except DeskError as error:
                        return error.code

            outcomes = await asyncio.gather(resolve(), resolve())
            assert outcomes.count("resolved") == 1
            assert {o for o in outcomes if o != "resolved"} <= {"status_not_allowed", "ticket_changed"}
            async with app.sessions() as session:
                events = (await session.exec(select(ComplaintEvent).where(
                    ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.action == "resolve"))).all()
                rounds = (await session.exec(select(CallbackRound).where(
                    CallbackRound.complaint_id == complaint.id))).all()
            assert len(events) == 1 and len(rounds) == 1


class TestStaleCallbackAnswers:
    """After a crash a callback query is handled again, and Telegram refuses a second answer."""

    EXPIRED = "Bad Request: query is too old and response timeout expired or query ID is invalid"

    async def test_a_refused_answer_still_gives_the_receipt(self, bot_app, client, resident):
        await resident.send("3栋电梯坏了")
        await resident.expect("在哪里")
        await resident.send("3栋1单元")
        await resident.expect("联系方式")
        await resident.tap(text("btn_share_phone"))
        summary = await resident.expect("请确认")
        await client.inject_fault("answerCallbackQuery", error_code=400, description=self.EXPIRED)
        await resident.press("确认提交", summary)
        receipt = await resident.expect("工单号")
        assert TICKET.search(receipt.text)
        assert not [m for m in await resident.messages() if text("internal_error") in (m.text or "")]

    async def test_other_refusals_of_an_answer_still_fail(self, bot_app, client):
        from aiogram.exceptions import TelegramBadRequest

        await client.inject_fault("answerCallbackQuery", error_code=400, description="Bad Request: boom")
        with pytest.raises(TelegramBadRequest, match="boom"):
            await bot_app.bot.answer_callback_query("1")
