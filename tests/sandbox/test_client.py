"""SandboxClient / SandboxUser against a real aiogram Dispatcher polling the sandbox."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from sandbox import SandboxClient, SandboxTimeout
from sandbox.client import SandboxError

from .conftest import polling


def build_dispatcher() -> Dispatcher:
    """A tiny bot: /start menu, contact capture, inline rating, echo."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        kb = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="📱 分享手机号", request_contact=True)], [KeyboardButton(text="我要投诉")]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        await message.answer("欢迎使用<b>回访</b>", parse_mode="HTML", reply_markup=kb)

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        await message.answer(f"已登记手机号 {message.contact.phone_number}", reply_markup=ReplyKeyboardRemove())

    @dp.message(F.text == "我要投诉")
    async def complain(message: Message) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="⭐ 满意", callback_data="rate:5"),
                              InlineKeyboardButton(text="不满意", callback_data="rate:1")]]
        )
        await message.answer("请评价本次服务", reply_markup=markup)

    @dp.callback_query(F.data.startswith("rate:"))
    async def rate(query: CallbackQuery) -> None:
        score = query.data.split(":")[1]
        await query.answer(f"感谢评分 {score}", show_alert=score == "1")
        await query.message.edit_text(f"您的评分：{score}")

    @dp.callback_query()
    async def other(query: CallbackQuery) -> None:
        await query.answer("无效按钮")

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    return dp


@pytest.fixture
async def running(bot: Bot):
    """The tiny bot polling the sandbox."""
    async with polling(build_dispatcher(), bot):
        yield


@pytest.mark.usefixtures("running")
class TestDispatcherRoundTrip:
    async def test_echo(self, sb: SandboxClient) -> None:
        user = sb.user(1001, "Alice")
        await user.send("你好")
        msg = await user.next_message()
        assert msg.text == "你好" and msg.from_bot

    async def test_start_keyboard_and_contact_tap(self, sb: SandboxClient) -> None:
        user = sb.user(1002, "Bob")
        await user.send("/start")
        welcome = await user.expect("欢迎")
        assert welcome.html == "欢迎使用<b>回访</b>" and welcome.text == "欢迎使用回访"
        assert welcome.reply_keyboard == [["📱 分享手机号"], ["我要投诉"]]
        assert await user.keyboard() == [["📱 分享手机号"], ["我要投诉"]]
        await user.tap("📱 分享手机号")
        reply = await user.expect("已登记手机号")
        assert reply.text == "已登记手机号 13800001002"
        assert await user.keyboard() is None

    async def test_tap_uses_known_phone_and_one_time_hides(self, sb: SandboxClient, server) -> None:
        user = sb.user(1003, "Carol", phone="+8613912345678")
        await user.send("/start")
        await user.expect("欢迎")
        await user.tap("我要投诉")
        assert await user.keyboard() is None  # one_time_keyboard hides after a press
        await user.expect("请评价")
        with pytest.raises(AssertionError, match="no reply keyboard"):
            await user.tap("📱 分享手机号")
        await user.send("/start")
        await user.expect("欢迎")
        await user.tap("📱 分享手机号")
        assert (await user.expect("已登记")).text.endswith("+8613912345678")

    async def test_tap_unknown_button_lists_available(self, sb: SandboxClient) -> None:
        user = sb.user(1004, "Dan")
        await user.send("/start")
        await user.expect("欢迎")
        with pytest.raises(AssertionError, match="我要投诉"):
            await user.tap("不存在")

    async def test_inline_press_answer_and_edit(self, sb: SandboxClient) -> None:
        user = sb.user(1005, "Eve")
        await user.send("我要投诉")
        prompt = await user.expect("请评价")
        assert prompt.button_texts() == ["⭐ 满意", "不满意"]
        assert prompt.callback_data("满意") == "rate:5"
        cb = await user.press("满意")
        answer = await user.callback_answer(cb)
        assert answer.text == "感谢评分 5" and not answer.show_alert
        state = await user.wait_edit(prompt)
        assert state.text == "您的评分：5" and state.edit_count == 1 and state.buttons == []

    async def test_press_exact_match_preferred_and_show_alert(self, sb: SandboxClient) -> None:
        user = sb.user(1006, "Fay")
        await user.send("我要投诉")
        await user.expect("请评价")
        answer = await user.callback_answer(await user.press("不满意"))
        assert answer.show_alert and answer.text == "感谢评分 1"

    async def test_forged_callback_data(self, sb: SandboxClient) -> None:
        user = sb.user(1007, "Gus")
        await user.send("我要投诉")
        prompt = await user.expect("请评价")
        with pytest.raises(SandboxError, match="no inline button"):
            await user.press_data(prompt.message_id, "hack", check=True)
        answer = await user.callback_answer(await user.press_data(prompt.message_id, "hack"))
        assert answer.text == "无效按钮"
        # forged press on a message that does not exist: bot gets an inaccessible message
        answer = await user.callback_answer(await user.press_data(9999, "hack"))
        assert answer.text == "无效按钮"

    async def test_transcript_both_sides(self, sb: SandboxClient) -> None:
        user = sb.user(1008, "Hal")
        await user.send("一")
        await user.expect("一")
        await user.send("二")
        await user.expect("二")
        transcript = await user.transcript()
        assert [(m.from_bot, m.text) for m in transcript] == [(False, "一"), (True, "一"), (False, "二"), (True, "二")]
        text = await user.transcript_text(user_label="住户")
        assert text.splitlines() == ["[住户] 一", "[bot] 一", "[住户] 二", "[bot] 二"]

    async def test_many_users_concurrently(self, sb: SandboxClient) -> None:
        users = [sb.user(3000 + i, f"U{i}") for i in range(30)]
        await asyncio.gather(*(u.send(f"hello {u.id}") for u in users))
        replies = await asyncio.gather(*(u.expect(f"hello {u.id}") for u in users))
        assert len(replies) == 30


class TestCursorAndWaiting:
    async def test_next_message_timeout_is_assertion_and_timeout(self, sb: SandboxClient) -> None:
        user = sb.user(1, "A")
        with pytest.raises(asyncio.TimeoutError):
            await user.next_message(timeout=0.2)
        with pytest.raises(AssertionError, match="no new bot message"):
            await user.next_message(timeout=0.1)

    async def test_expect_skips_and_reports_seen(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(2, "B")
        await user.send("hi")
        for text in ("alpha", "beta", "gamma"):
            await bot.send_message(2, text)
        assert (await user.expect("gam")).text == "gamma"
        await bot.send_message(2, "delta")
        with pytest.raises(SandboxTimeout, match="delta"):
            await user.expect("omega", timeout=0.3)

    async def test_next_message_waits_for_late_message(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(3, "C")
        await user.send("hi")

        async def later() -> None:
            await asyncio.sleep(0.2)
            await bot.send_message(3, "late")

        task = asyncio.create_task(later())
        assert (await user.next_message(timeout=10)).text == "late"
        await task

    async def test_drain_and_messages(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(4, "D")
        await user.send("hi")
        await bot.send_message(4, "old1")
        await bot.send_message(4, "old2")
        assert [m.text for m in await user.drain()] == ["old1", "old2"]
        await bot.send_message(4, "new")
        assert (await user.next_message()).text == "new"
        assert [m.text for m in await user.messages()] == ["old1", "old2", "new"]
        assert (await user.last_message()).text == "new"

    async def test_chat_messages_long_poll_min(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(5, "E")
        await user.send("hi")

        async def produce() -> None:
            for i in range(3):
                await asyncio.sleep(0.05)
                await bot.send_message(5, f"p{i}")

        task = asyncio.create_task(produce())
        got = await sb.chat_messages(5, who="bot", wait=10, min=3)
        await task
        assert [m.text for m in got] == ["p0", "p1", "p2"]
        assert [m.text for m in await sb.chat_messages(5, who="user")] == ["hi"]

    async def test_callback_not_answered_and_double_answer(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(6, "F")
        await user.send("hi")
        msg = await bot.send_message(6, "q", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]))
        cb = await user.press("Go", (await user.next_message()))
        with pytest.raises(SandboxTimeout):
            await user.callback_answer(cb, timeout=0.2)
        assert await bot.answer_callback_query(cb, text="done") is True
        assert (await user.callback_answer(cb)).text == "done"
        with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
            await bot.answer_callback_query(cb)
        assert msg.message_id == 2

    async def test_wait_edit(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(9, "I")
        await user.send("hi")
        msg = await bot.send_message(9, "v1")
        with pytest.raises(SandboxTimeout, match="not edited"):
            await user.wait_edit(msg.message_id, timeout=0.2)
        before = await user.message(msg.message_id)
        await bot.edit_message_text("v2", chat_id=9, message_id=msg.message_id)
        after = await user.wait_edit(before, timeout=5)
        assert after.text == "v2" and after.edit_count == 1

    async def test_press_without_matching_button(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(7, "G")
        await user.send("hi")
        await bot.send_message(7, "q", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="y")]]))
        with pytest.raises(AssertionError, match="available: \\['Yes'\\]"):
            await user.press("No")

    async def test_render(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(8, "H")
        await user.send_photo("漏水照片")
        await bot.send_message(8, "选择", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]))
        lines = (await user.transcript_text()).splitlines()
        assert lines == ["[H] <photo> 漏水照片", "[bot] 选择", "    [A]"]
