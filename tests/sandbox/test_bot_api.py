"""Bot API emulation driven by the real aiogram Bot (direct method calls)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from sandbox import SandboxClient, SandboxServer

from .conftest import make_bot

UID = 1001


def inline(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    """One-row inline keyboard."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in pairs]])


@pytest.fixture
async def alice(sb: SandboxClient):
    """A user who has started the bot."""
    user = sb.user(UID, "Alice", username="alice")
    await user.send("/start")
    return user


class TestBasics:
    async def test_get_me(self, bot: Bot) -> None:
        me = await bot.get_me()
        assert me.id == 7000000001 and me.is_bot and me.username == "huifang_bot"

    async def test_unknown_method_is_404(self, server: SandboxServer) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.base_url}/bot1:x/noSuchMethod") as resp:
                assert resp.status == 404
                assert await resp.json() == {"ok": False, "error_code": 404,
                                             "description": "Not Found: method not found"}

    async def test_method_names_case_insensitive_and_json_body(self, server: SandboxServer) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.base_url}/bot1:x/GETME", json={}) as resp:
                body = await resp.json()
        assert resp.status == 200 and body["ok"] and body["result"]["username"] == "huifang_bot"

    async def test_form_urlencoded_send(self, server: SandboxServer, alice) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.base_url}/bot1:x/sendMessage",
                                 data={"chat_id": str(UID), "text": "hello"}) as resp:
                body = await resp.json()
        assert body["ok"] and body["result"]["text"] == "hello"
        assert body["result"]["chat"] == {"id": UID, "type": "private", "first_name": "Alice", "username": "alice"}

    async def test_webhook_and_misc_methods(self, bot: Bot) -> None:
        assert await bot.delete_webhook() is True
        info = await bot.get_webhook_info()
        assert info.url == "" and info.pending_update_count == 0
        assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands()) is True
        assert await bot.log_out() is True
        assert await bot.close() is True

    async def test_token_check(self) -> None:
        async with SandboxServer(bot_token_check=True) as srv:
            good = make_bot(srv.base_url)
            bad = make_bot(srv.base_url, "123:short")
            try:
                assert (await good.get_me()).id == 7000000001
                with pytest.raises(TelegramUnauthorizedError):
                    await bad.get_me()
            finally:
                await good.session.close()
                await bad.session.close()

    async def test_commands_roundtrip(self, bot: Bot, sb: SandboxClient) -> None:
        cmds = [BotCommand(command="start", description="开始"), BotCommand(command="help", description="帮助")]
        assert await bot.set_my_commands(cmds) is True
        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
        assert await bot.delete_my_commands() is True
        assert await bot.get_my_commands() == []
        logged = await sb.calls("setMyCommands")
        assert len(logged) == 2 and logged[0]["ok"] and not logged[1]["ok"]


class TestGetUpdates:
    async def test_offset_confirms_and_drops(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(UID, "Alice")
        for text in ("one", "two", "three"):
            await user.send(text)
        first = await bot.get_updates(limit=2)
        assert [u.message.text for u in first] == ["one", "two"]
        again = await bot.get_updates()  # nothing confirmed yet: redelivered
        assert [u.message.text for u in again] == ["one", "two", "three"]
        rest = await bot.get_updates(offset=first[-1].update_id + 1)
        assert [u.message.text for u in rest] == ["three"]
        assert [u.message.text for u in await bot.get_updates()] == ["three"]
        assert await bot.get_updates(offset=rest[-1].update_id + 1) == []
        assert await sb.pending_updates() == []
        stats = await sb.stats()
        assert (stats["updates_enqueued"], stats["updates_delivered"]) == (3, 2 + 3 + 1 + 1)  # repeats counted

    async def test_a_second_poller_gets_409_like_telegram(self, bot: Bot, sb: SandboxClient, server) -> None:
        first = asyncio.create_task(bot.get_updates(timeout=3))
        for _ in range(100):  # until the first long poll is waiting in the sandbox
            if (await sb.stats())["calls"].get("getUpdates"):
                break
            await asyncio.sleep(0.02)
        other = make_bot(server.base_url)
        try:
            with pytest.raises(TelegramConflictError, match="only one bot instance"):
                await other.get_updates(timeout=1)
        finally:
            await other.session.close()
        await sb.user(UID, "Alice").send("hello")
        assert [u.message.text for u in await first] == ["hello"]

    async def test_negative_offset_keeps_last(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(UID, "Alice")
        for text in ("a", "b", "c"):
            await user.send(text)
        assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["c"]
        assert [u.message.text for u in await bot.get_updates()] == ["c"]

    async def test_long_poll_returns_when_update_arrives(self, bot: Bot, sb: SandboxClient) -> None:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.2)
        assert not poll.done()
        await sb.user(UID, "Alice").send("wake up")
        updates = await asyncio.wait_for(poll, 10)  # far less than the 30 s poll timeout
        assert [u.message.text for u in updates] == ["wake up"]

    async def test_long_poll_times_out_empty(self, bot: Bot) -> None:
        assert await bot.get_updates(timeout=1) == []

    async def test_allowed_updates_filter(self, bot: Bot, sb: SandboxClient, alice) -> None:
        msg = await bot.send_message(UID, "q", reply_markup=inline(("Yes", "y")))
        await alice.press("Yes", msg.message_id)
        updates = await bot.get_updates(allowed_updates=["callback_query"])
        assert len(updates) == 1 and updates[0].callback_query.data == "y"

    async def test_delete_webhook_drops_pending(self, bot: Bot, sb: SandboxClient) -> None:
        await sb.user(UID, "Alice").send("old")
        await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates() == []

    async def test_message_shapes(self, bot: Bot, sb: SandboxClient) -> None:
        user = sb.user(UID, "Alice", phone="13900000000")
        await user.send("/report@huifang_bot now")
        await user.send_photo(caption="漏水")
        await user.send_contact()
        await user.send_contact(own=False)
        await user.send_sticker()
        await user.send_voice()
        await user.send_document("合同.pdf")
        await user.send_location()
        ups = [u.message for u in await bot.get_updates()]
        assert ups[0].entities[0].type == "bot_command" and ups[0].entities[0].length == len("/report@huifang_bot")
        assert len(ups[1].photo) == 3 and ups[1].caption == "漏水"
        assert ups[2].contact.phone_number == "13900000000" and ups[2].contact.user_id == UID
        assert ups[3].contact.user_id != UID
        assert ups[4].sticker is not None and ups[5].voice.duration == 3
        assert ups[6].document.file_name == "合同.pdf" and ups[6].document.mime_type == "application/pdf"
        assert ups[7].location.latitude == pytest.approx(31.2304)
        assert all(m.from_user.id == UID and m.chat.type == "private" for m in ups)


class TestSendMessage:
    async def test_html_is_parsed_into_text_and_entities(self, bot: Bot, alice) -> None:
        msg = await bot.send_message(UID, "<b>工单</b> #12 &lt;已受理&gt;", parse_mode="HTML")
        assert msg.text == "工单 #12 <已受理>"
        assert msg.entities[0].type == "bold" and msg.entities[0].length == 2
        stored = await alice.message(msg.message_id)
        assert stored.html == "<b>工单</b> #12 &lt;已受理&gt;" and stored.text == "工单 #12 <已受理>"
        assert stored.from_bot and stored.kind == "text"

    @pytest.mark.parametrize("bad_html", ["<b>unclosed", "<br>", "1 < 2", "R&D", "<b><i>x</b></i>"])
    async def test_bad_html_is_refused(self, bot: Bot, alice, bad_html: str) -> None:
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(UID, bad_html, parse_mode="HTML")

    async def test_without_parse_mode_text_is_literal(self, bot: Bot, alice) -> None:
        msg = await bot.send_message(UID, "1 < 2 & <b>")
        assert msg.text == "1 < 2 & <b>" and not msg.entities

    async def test_empty_text(self, bot: Bot, alice) -> None:
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(UID, "   ")
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(UID, "<b> </b>", parse_mode="HTML")

    async def test_too_long_counts_after_parsing(self, bot: Bot, alice) -> None:
        await bot.send_message(UID, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(UID, "字" * 4097)

    async def test_caption_too_long(self, bot: Bot, alice) -> None:
        with pytest.raises(TelegramBadRequest, match="message caption is too long"):
            await bot.send_photo(UID, BufferedInputFile(b"img", "a.jpg"), caption="x" * 1025)

    async def test_callback_data_limit_is_64_bytes(self, bot: Bot, alice) -> None:
        await bot.send_message(UID, "ok", reply_markup=inline(("a", "x" * 64)))
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(UID, "no", reply_markup=inline(("a", "中" * 22)))  # 66 bytes

    async def test_reply_to_message(self, bot: Bot, alice) -> None:
        sent = await alice.send("投诉：漏水")
        reply = await bot.send_message(UID, "收到", reply_to_message_id=sent["message_id"])
        assert reply.reply_to_message.text == "投诉：漏水"
        with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
            await bot.send_message(UID, "x", reply_to_message_id=999)

    async def test_chat_action(self, bot: Bot, alice) -> None:
        assert await bot.send_chat_action(UID, "typing") is True

    async def test_many_concurrent_sends(self, bot: Bot, sb: SandboxClient, alice) -> None:
        results = await asyncio.gather(*(bot.send_message(UID, f"n{i}") for i in range(250)))
        assert len({m.message_id for m in results}) == 250
        assert len(await alice.messages()) == 250
        assert (await sb.stats())["messages_sent"] == 250


class TestAccess:
    async def test_never_started_user(self, bot: Bot, sb: SandboxClient) -> None:
        with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
            await bot.send_message(4242, "hi")
        await sb.request("POST", "/control/users", json={"id": 4242, "first_name": "Bob"})
        with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
            await bot.send_message(4242, "hi")

    async def test_blocked_user_and_unblock_by_writing(self, bot: Bot, alice) -> None:
        await alice.block()
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(UID, "hi")
        with pytest.raises(TelegramForbiddenError, match="blocked"):
            await bot.send_photo(UID, BufferedInputFile(b"x", "a.jpg"))
        await alice.send("I'm back")
        assert (await bot.send_message(UID, "welcome back")).text == "welcome back"

    async def test_groups(self, bot: Bot, sb: SandboxClient) -> None:
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(-1001234567890, "hi")
        await sb.register_group(-1001234567890, "维修群")
        msg = await bot.send_message(-1001234567890, "新工单")
        assert msg.chat.type == "supergroup" and msg.chat.title == "维修群"
        assert [m.text for m in await sb.chat_messages(-1001234567890, who="bot")] == ["新工单"]


class TestEditing:
    async def test_edit_text_and_markup(self, bot: Bot, alice) -> None:
        msg = await bot.send_message(UID, "状态：待处理", reply_markup=inline(("完成", "done")))
        edited = await bot.edit_message_text("状态：<b>已完成</b>", chat_id=UID, message_id=msg.message_id,
                                             parse_mode="HTML")
        assert edited.text == "状态：已完成" and edited.edit_date is not None
        assert edited.reply_markup is None  # editing without markup drops the inline keyboard
        state = await alice.message(msg.message_id)
        assert state.edited and state.edit_count == 1 and state.buttons == []
        await bot.edit_message_reply_markup(chat_id=UID, message_id=msg.message_id,
                                            reply_markup=inline(("评价", "rate")))
        assert (await alice.message(msg.message_id)).button_texts() == ["评价"]

    async def test_not_modified(self, bot: Bot, alice) -> None:
        msg = await bot.send_message(UID, "same", reply_markup=inline(("a", "a")))
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("same", chat_id=UID, message_id=msg.message_id,
                                        reply_markup=inline(("a", "a")))
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_reply_markup(chat_id=UID, message_id=msg.message_id,
                                                reply_markup=inline(("a", "a")))

    async def test_edit_missing_or_deleted(self, bot: Bot, alice) -> None:
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=UID, message_id=999)
        msg = await bot.send_message(UID, "bye")
        assert await bot.delete_message(UID, msg.message_id) is True
        assert (await alice.message(msg.message_id)).deleted
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=UID, message_id=msg.message_id)
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await bot.delete_message(UID, msg.message_id)

    async def test_cannot_edit_user_message(self, bot: Bot, alice) -> None:
        sent = await alice.send("mine")
        with pytest.raises(TelegramBadRequest, match="can't be edited"):
            await bot.edit_message_text("x", chat_id=UID, message_id=sent["message_id"])


class TestFiles:
    async def test_upload_then_get_file_and_download(self, bot: Bot, alice) -> None:
        msg = await bot.send_photo(UID, BufferedInputFile(b"\xff\xd8jpeg-bytes", "p.jpg"), caption="<i>现场</i>",
                                   parse_mode="HTML")
        assert msg.caption == "现场" and msg.caption_entities[0].type == "italic"
        file = await bot.get_file(msg.photo[-1].file_id)
        assert (await bot.download_file(file.file_path)).read() == b"\xff\xd8jpeg-bytes"
        view = await alice.message(msg.message_id)
        assert view.kind == "photo" and view.text == "现场" and view.caption == "现场"
        doc = await bot.send_document(UID, BufferedInputFile(b"%PDF-1.4", "报告.pdf"))
        assert doc.document.file_name == "报告.pdf" and doc.document.mime_type == "application/pdf"
        assert (await bot.download(doc.document.file_id)).read() == b"%PDF-1.4"

    async def test_resend_user_photo_by_file_id(self, bot: Bot, sb: SandboxClient, alice) -> None:
        await alice.send_photo("裂缝")
        update = (await bot.get_updates())[-1]
        best = update.message.photo[-1]
        data = (await bot.download(best.file_id)).read()
        assert data.startswith(b"\x89PNG")
        await sb.register_group(-100500, "staff")
        fwd = await bot.send_photo(-100500, best.file_id, caption="转发")
        assert fwd.photo[-1].file_id == best.file_id

    async def test_unknown_file_id(self, bot: Bot, alice) -> None:
        with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
            await bot.send_photo(UID, "nope")
        with pytest.raises(TelegramBadRequest, match="invalid file_id"):
            await bot.get_file("nope")


class TestKeyboards:
    async def test_reply_keyboard_state(self, bot: Bot, alice) -> None:
        kb = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="分享手机号", request_contact=True)],
                                           [KeyboardButton(text="取消")]], resize_keyboard=True)
        await bot.send_message(UID, "请分享手机号", reply_markup=kb)
        assert await alice.keyboard() == [["分享手机号"], ["取消"]]
        await bot.send_message(UID, "force", reply_markup=ForceReply())
        assert await alice.keyboard() == [["分享手机号"], ["取消"]]  # ForceReply keeps it
        await bot.send_message(UID, "好的", reply_markup=ReplyKeyboardRemove())
        assert await alice.keyboard() is None


class TestFaultsAndLimits:
    async def test_injected_429(self, bot: Bot, sb: SandboxClient, alice) -> None:
        await sb.inject_fault("sendMessage", retry_after=7, count=2)
        for _ in range(2):
            with pytest.raises(TelegramRetryAfter) as err:
                await bot.send_message(UID, "hi")
            assert err.value.retry_after == 7
        assert (await bot.send_message(UID, "hi")).text == "hi"
        stats = await sb.stats()
        assert stats["retry_after_returned"] == 2 and stats["errors"] == {"429": 2}
        calls = await sb.calls("sendMessage")
        assert [c["ok"] for c in calls] == [False, False, True] and calls[0]["retry_after"] == 7

    async def test_wildcard_fault_spares_get_updates(self, bot: Bot, sb: SandboxClient, alice) -> None:
        await sb.inject_fault("*", retry_after=1, count=1)
        assert len(await bot.get_updates()) == 1
        with pytest.raises(TelegramRetryAfter):
            await bot.send_chat_action(UID, "typing")
        assert await bot.send_chat_action(UID, "typing") is True

    async def test_fault_other_codes(self, bot: Bot, sb: SandboxClient, alice) -> None:
        await sb.inject_fault("editMessageText", error_code=400, description="Bad Request: boom")
        msg = await bot.send_message(UID, "a")
        with pytest.raises(TelegramBadRequest, match="boom"):
            await bot.edit_message_text("b", chat_id=UID, message_id=msg.message_id)

    async def test_private_chat_rate_limit(self, bot: Bot, sb: SandboxClient, server: SandboxServer, alice) -> None:
        await sb.set_rate_limits(True)
        server.world.limiter.clock = lambda: 1000.0  # frozen time: no refill during the test
        outcomes = []
        for i in range(6):
            try:
                await bot.send_message(UID, f"m{i}")
                outcomes.append("ok")
            except TelegramRetryAfter as exc:
                assert exc.retry_after >= 1
                outcomes.append("429")
        assert outcomes == ["ok"] * 3 + ["429"] * 3  # burst of 3, then 1/s
        assert (await sb.stats())["retry_after_returned"] >= 1
        await sb.set_rate_limits(False)
        await bot.send_message(UID, "unlimited")

    async def test_global_rate_limit(self, bot: Bot, sb: SandboxClient, server: SandboxServer) -> None:
        users = [sb.user(2000 + i, f"U{i}") for i in range(40)]
        for user in users:
            await user.send("hi")
        await sb.set_rate_limits(True)
        server.world.limiter.clock = lambda: 1000.0
        results = await asyncio.gather(*(bot.send_message(u.id, "x") for u in users), return_exceptions=True)
        limited = [r for r in results if isinstance(r, TelegramRetryAfter)]
        assert len(limited) == 10  # 30 per second overall
        assert all(r.retry_after >= 1 for r in limited)

    async def test_group_rate_limit(self, bot: Bot, sb: SandboxClient, server: SandboxServer) -> None:
        await sb.register_group(-42, "g")
        await sb.set_rate_limits(True)
        now = [1000.0]
        server.world.limiter.clock = lambda: now[0]
        ok = 0
        with pytest.raises(TelegramRetryAfter):
            for _ in range(25):
                await bot.send_message(-42, "x")
                ok += 1
        assert ok == 20
        now[0] += 3.1  # 20 per minute: one slot back after 3 s
        await bot.send_message(-42, "again")
        with pytest.raises(TelegramRetryAfter) as err:
            await bot.send_message(-42, "too soon")
        assert err.value.retry_after == 3

    async def test_real_clock_refills(self, bot: Bot, sb: SandboxClient, alice) -> None:
        await sb.set_rate_limits(True)
        for i in range(3):
            await bot.send_message(UID, f"burst {i}")
        with pytest.raises(TelegramRetryAfter) as err:
            await bot.send_message(UID, "over")
        await asyncio.sleep(err.value.retry_after)
        assert (await bot.send_message(UID, "after waiting")).text == "after waiting"


class TestReset:
    async def test_reset_clears_world_but_not_update_ids(self, bot: Bot, sb: SandboxClient, alice) -> None:
        first = (await bot.get_updates())[-1].update_id
        await bot.get_updates(offset=first + 1)
        await sb.inject_fault("getMe")
        await sb.reset()
        assert await bot.get_me()  # faults cleared
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(UID, "gone")
        await alice.send("again")
        updates = await bot.get_updates(offset=first + 1)
        assert [u.message.text for u in updates] == ["again"] and updates[0].update_id > first


class TestRawSession:
    async def test_not_found_maps_to_aiogram(self, server: SandboxServer, bot: Bot) -> None:
        class Bogus(TelegramMethod[bool]):
            __returning__ = bool
            __api_method__ = "bogusMethod"

        with pytest.raises(TelegramNotFound):
            await bot(Bogus())
