"""RateLimitMiddleware and Sender against the sandbox with Telegram-like flood limits on.

Every test uses a real SandboxServer over HTTP and a real aiogram Bot with the
middleware installed on its session.  No wall-clock assertions: pacing is proven by
the sandbox answering no 429, retries by the sandbox's call log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import GetMe, SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sender import (
    Delivery,
    LIMITED_METHODS,
    Rate,
    RateLimitMiddleware,
    Sender,
    install_rate_limiter,
)
from sandbox import SandboxClient, SandboxServer
from sandbox.state import TokenBucket

TOKEN = "7000000001:AAHsandboxTOKENsandboxTOKENsandbox12"
GROUP = -100123
TIMEOUT = 60  # generous upper bound for any single test body


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    srv = SandboxServer(rate_limits=True)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def client(server: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(server.base_url) as sb:
        yield sb


def _bot(server: SandboxServer) -> Bot:
    return Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


class ForbiddenLog:
    """Records on_forbidden calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int | str, str]] = []

    async def __call__(self, chat_id: int | str, description: str) -> None:
        self.calls.append((chat_id, description))


@pytest.fixture
async def make_bot(server: SandboxServer) -> AsyncIterator[Callable[..., tuple[Bot, RateLimitMiddleware]]]:
    """Factory: a real Bot on the sandbox with a RateLimitMiddleware(**kwargs) installed."""
    bots: list[Bot] = []

    def factory(**kwargs: Any) -> tuple[Bot, RateLimitMiddleware]:
        bot = _bot(server)
        middleware = RateLimitMiddleware(**kwargs)
        bot.session.middleware(middleware)
        bots.append(bot)
        return bot, middleware

    yield factory
    for bot in bots:
        await bot.session.close()


@pytest.fixture
def forbidden_log() -> ForbiddenLog:
    return ForbiddenLog()


@pytest.fixture
def sender_and_mw(make_bot, forbidden_log) -> tuple[Sender, RateLimitMiddleware]:
    """A Sender over a bot with default limits (fast network retries) and the 403 hook."""
    bot, middleware = make_bot(on_forbidden=forbidden_log, network_backoff=0.05)
    return Sender(bot), middleware


@pytest.fixture
def sender(sender_and_mw) -> Sender:
    return sender_and_mw[0]


@pytest.fixture
async def fast_sender(client, make_bot, forbidden_log) -> Sender:
    """For tests about results, not pacing: sandbox limits off, generous per-chat rate."""
    await client.set_rate_limits(False)
    bot, _ = make_bot(private=Rate(20, 1.0), on_forbidden=forbidden_log)
    return Sender(bot)


async def start_users(client: SandboxClient, ids: list[int]) -> None:
    """Each user sends /start so the bot may write to them."""
    await asyncio.gather(*(client.user(uid, f"U{uid}").send("/start") for uid in ids))


async def bot_texts(client: SandboxClient, chat_id: int) -> list[str | None]:
    return [m.text for m in await client.chat_messages(chat_id, who="bot")]


async def assert_no_429(client: SandboxClient) -> dict[str, Any]:
    stats = await client.stats()
    assert stats["rate_limits"] is True
    assert stats["retry_after_returned"] == 0, stats
    assert "429" not in stats["errors"], stats
    return stats


class TestPacing:
    async def test_burst_of_200_over_50_chats_all_delivered_without_429(self, client, sender):
        users = list(range(20001, 20051))
        await start_users(client, users)
        jobs = [(uid, n) for n in range(4) for uid in users]  # 4 pings per chat, interleaved

        results = await asyncio.wait_for(
            asyncio.gather(*(sender.send_text(uid, f"ping {uid} #{n}") for uid, n in jobs)), TIMEOUT
        )

        assert all(r.ok and r.message_id for r in results), [r for r in results if not r.ok]
        for uid in users:
            assert await bot_texts(client, uid) == [f"ping {uid} #{n}" for n in range(4)]
        stats = await assert_no_429(client)
        assert stats["calls"].get("sendMessage") == 200  # no retries were needed

    async def test_five_to_one_private_chat_in_order_without_429(self, client, sender):
        await start_users(client, [3001])
        results = await asyncio.wait_for(
            asyncio.gather(*(sender.send_text(3001, f"m{i}") for i in range(5))), TIMEOUT
        )
        assert [r.ok for r in results] == [True] * 5
        assert await bot_texts(client, 3001) == [f"m{i}" for i in range(5)]
        await assert_no_429(client)

    async def test_group_paced_by_group_rate(self, server, client, make_bot):
        await client.register_group(GROUP, "物业主管群")
        # Make the sandbox's group bucket as tight as the test's group rate: 3 at once, then 1.5/s.
        # Unpaced, the 4th message would get a 429 (see the control test below).
        server.world.limiter.chats[GROUP] = TokenBucket(3, 1.5)
        bot, _ = make_bot(group=Rate(3, 2.0, burst=1))
        sender = Sender(bot)

        results = await asyncio.wait_for(
            asyncio.gather(*(sender.send_text(GROUP, f"工单 {i}") for i in range(7))), TIMEOUT
        )

        assert all(r.ok for r in results)
        assert await bot_texts(client, GROUP) == [f"工单 {i}" for i in range(7)]
        await assert_no_429(client)

    async def test_control_unpaced_group_burst_gets_429(self, server, client):
        """Sanity check of the test above: without the middleware the tight bucket answers 429."""
        await client.register_group(GROUP)
        server.world.limiter.chats[GROUP] = TokenBucket(3, 1.5)
        bot = _bot(server)
        try:
            for i in range(3):
                await bot.send_message(GROUP, f"x{i}")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(GROUP, "x3")
        finally:
            await bot.session.close()

    async def test_group_with_default_sandbox_limits(self, client, make_bot):
        await client.register_group(GROUP)
        bot, _ = make_bot(group=Rate(3, 2.0))
        sender = Sender(bot)
        results = await asyncio.wait_for(
            asyncio.gather(*(sender.send_text(GROUP, f"g{i}") for i in range(6))), TIMEOUT
        )
        assert all(r.ok for r in results)
        assert await bot_texts(client, GROUP) == [f"g{i}" for i in range(6)]
        await assert_no_429(client)

    async def test_handlers_calls_are_paced_too(self, client, make_bot):
        """Plain bot.send_message (what message.answer does) goes through the middleware."""
        await start_users(client, [3101])
        bot, _ = make_bot()
        # 4 messages: unpaced, the 4th would exceed the sandbox's per-chat burst of 3.
        await asyncio.wait_for(asyncio.gather(*(bot.send_message(3101, f"a{i}") for i in range(4))), TIMEOUT)
        assert await bot_texts(client, 3101) == [f"a{i}" for i in range(4)]
        await assert_no_429(client)


class TestRetries:
    async def test_injected_429_waited_out_and_delivered_once(self, client, sender_and_mw):
        sender, middleware = sender_and_mw
        await start_users(client, [4001])
        await client.inject_fault(method="sendMessage", count=2, retry_after=1)

        result = await asyncio.wait_for(sender.send_text(4001, "紧急：漏水"), TIMEOUT)

        assert result.ok and result.message_id is not None
        assert await bot_texts(client, 4001) == ["紧急：漏水"]
        calls = await client.calls("sendMessage")
        assert [c.get("error_code") for c in calls] == [429, 429, None]
        assert [c["ok"] for c in calls] == [False, False, True]
        assert middleware.retried_429 == 2

    async def test_gives_up_after_max_retries(self, client, make_bot):
        await start_users(client, [4002])
        bot, _ = make_bot(max_retries=1, retry_margin=0.0)
        await client.inject_fault(method="sendMessage", count=3, retry_after=1)

        result = await asyncio.wait_for(Sender(bot).send_text(4002, "x"), TIMEOUT)

        assert result == Delivery(ok=False, message_id=None, error=result.error, forbidden=False, retry_after=1.0)
        assert "Too Many Requests" in (result.error or "")  # the caller may try again after retry_after
        assert await bot_texts(client, 4002) == []
        assert len(await client.calls("sendMessage")) == 2

    async def test_server_error_retried_with_backoff(self, client, fast_sender):
        await start_users(client, [4003])
        await client.inject_fault(method="sendMessage", count=2, error_code=502)
        result = await asyncio.wait_for(fast_sender.send_text(4003, "after 502"), TIMEOUT)
        assert result.ok
        assert await bot_texts(client, 4003) == ["after 502"]
        assert [c["ok"] for c in await client.calls("sendMessage")] == [False, False, True]

    async def test_server_error_gives_up(self, client, fast_sender):
        await start_users(client, [4004])
        await client.inject_fault(method="sendMessage", count=5, error_code=500)
        result = await asyncio.wait_for(fast_sender.send_text(4004, "x"), TIMEOUT)
        assert not result.ok and not result.forbidden
        assert len(await client.calls("sendMessage")) == 3  # first try + 2 retries

    async def test_wait_on_one_chat_does_not_block_others(self, client, sender):
        await start_users(client, [4005, 4006])
        await client.inject_fault(method="sendMessage", count=1, retry_after=2, chat_id=4005)

        slow = asyncio.create_task(sender.send_text(4005, "slow"))
        while not await client.calls("sendMessage"):  # the 429 has been answered: slow is now waiting
            await asyncio.sleep(0.02)
        fast = await asyncio.wait_for(sender.send_text(4006, "fast"), TIMEOUT)

        assert fast.ok
        assert not slow.done()  # still waiting out its retry_after, yet the other chat went through
        assert (await asyncio.wait_for(slow, TIMEOUT)).ok
        assert await bot_texts(client, 4005) == ["slow"]
        assert await bot_texts(client, 4006) == ["fast"]


class TestForbidden:
    async def test_blocked_user(self, client, sender, forbidden_log):
        await start_users(client, [5001])
        await client.block(5001)

        result = await sender.send_text(5001, "您的工单已完成")

        assert result.ok is False and result.forbidden is True
        assert "blocked" in (result.error or "")
        assert forbidden_log.calls == [(5001, result.error)]

    async def test_never_started_user(self, client, sender, forbidden_log):
        result = await sender.send_text(5002, "hello")
        assert result == Delivery(ok=False, message_id=None, error=result.error, forbidden=True)
        assert "can't initiate conversation" in (result.error or "")
        assert forbidden_log.calls == [(5002, result.error)]

    async def test_middleware_reraises_403_for_direct_calls(self, client, make_bot, forbidden_log):
        await start_users(client, [5003])
        await client.block(5003)
        bot, _ = make_bot(on_forbidden=forbidden_log)
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(5003, "x")
        assert [chat for chat, _ in forbidden_log.calls] == [5003]

    async def test_failing_hook_does_not_mask_403(self, client, make_bot):
        async def broken(chat_id: int | str, description: str) -> None:
            raise RuntimeError("hook bug")

        bot, _ = make_bot(on_forbidden=broken)
        result = await Sender(bot).send_text(5004, "x")
        assert result.forbidden and not result.ok

    async def test_photos_to_never_started_user(self, client, sender, forbidden_log):
        result = await sender.send_photos(5005, ["AgAD-nope"])
        assert result.forbidden and result.message_id is None
        assert [chat for chat, _ in forbidden_log.calls] == [5005]


class TestSenderCalls:
    async def test_bad_request_is_not_forbidden(self, client, fast_sender, forbidden_log):
        result = await fast_sender.send_text(-999, "nobody here")
        assert result.ok is False and result.forbidden is False
        assert "chat not found" in (result.error or "")
        assert forbidden_log.calls == []

    async def test_send_text_with_markup_and_html(self, client, fast_sender):
        await start_users(client, [6001])
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="接单", callback_data="take:1")]])
        result = await fast_sender.send_text(6001, "<b>新工单</b>", reply_markup=markup, disable_notification=True)
        assert result.ok
        (msg,) = await client.chat_messages(6001, who="bot")
        assert msg.message_id == result.message_id
        assert msg.text == "新工单" and msg.html == "<b>新工单</b>"
        assert msg.button_data() == ["take:1"]

    async def test_send_photos(self, client, fast_sender):
        resident = client.user(6002, "李雷")
        await resident.send("/start")
        sent = await resident.send_photo("漏水照片")
        file_id = sent["message"]["photo"][-1]["file_id"]

        single = await fast_sender.send_photos(6002, [file_id], caption="一张")
        album = await fast_sender.send_photos(6002, [file_id] * 3, caption="三张")

        assert single.ok and album.ok
        photos = [m for m in await client.chat_messages(6002, who="bot")]
        assert [m.kind for m in photos] == ["photo"] * 4
        assert [m.caption for m in photos] == ["一张", "三张", None, None]
        assert album.message_id == photos[1].message_id
        with pytest.raises(ValueError):
            await fast_sender.send_photos(6002, [])

    async def test_edit_markup(self, client, fast_sender):
        await start_users(client, [6003])
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="评价", callback_data="rate")]])
        sent = await fast_sender.send_text(6003, "请评价", reply_markup=markup)
        assert sent.message_id is not None

        removed = await fast_sender.edit_markup(6003, sent.message_id)
        again = await fast_sender.edit_markup(6003, sent.message_id)
        missing = await fast_sender.edit_markup(6003, 999_999, markup)

        assert removed == Delivery(ok=True, message_id=sent.message_id)
        assert again.ok is False and "not modified" in (again.error or "")
        assert missing.ok is False and "not found" in (missing.error or "")
        assert (await client.get_message(6003, sent.message_id)).buttons == []

    async def test_cancellation_propagates(self, client, fast_sender):
        await start_users(client, [6004])
        await client.inject_fault(method="sendMessage", count=1, retry_after=5)
        task = asyncio.create_task(fast_sender.send_text(6004, "x"))
        while not await client.calls("sendMessage"):
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class TestOrderingAndState:
    async def test_concurrent_sends_to_one_chat_keep_submission_order(self, client, make_bot):
        """With pacing out of the way (fast limits, sandbox limits off), only the per-chat FIFO orders."""
        await client.set_rate_limits(False)
        await start_users(client, [7001])
        bot, _ = make_bot(private=Rate(100, 1.0), overall=Rate(100, 1.0))
        sender = Sender(bot)
        results = await asyncio.gather(*(sender.send_text(7001, f"#{i}") for i in range(10)))
        assert all(r.ok for r in results)
        assert await bot_texts(client, 7001) == [f"#{i}" for i in range(10)]
        assert [r.message_id for r in results] == sorted(r.message_id for r in results)

    async def test_order_kept_across_a_429_retry(self, client, sender):
        await start_users(client, [7002])
        await client.inject_fault(method="sendMessage", count=1, retry_after=1, chat_id=7002)
        results = await asyncio.wait_for(
            asyncio.gather(*(sender.send_text(7002, f"#{i}") for i in range(3))), TIMEOUT
        )
        assert all(r.ok for r in results)
        assert await bot_texts(client, 7002) == [f"#{i}" for i in range(3)]

    async def test_idle_chat_state_is_dropped(self, client, make_bot):
        await client.set_rate_limits(False)
        await start_users(client, [7003, 7004, 7005])
        bot, middleware = make_bot(private=Rate(1, 0.05), sweep_interval=0.0)
        await asyncio.gather(bot.send_message(7003, "a"), bot.send_message(7004, "b"))
        assert middleware.tracked_chats == 2
        await asyncio.sleep(0.2)  # both limiters drain completely
        await bot.send_message(7005, "c")
        assert middleware.tracked_chats == 1

    async def test_non_message_calls_pass_through(self, make_bot):
        bot, middleware = make_bot()
        me = await bot.get_me()
        assert me.is_bot
        assert middleware.tracked_chats == 0
        assert GetMe not in LIMITED_METHODS and SendMessage in LIMITED_METHODS

    async def test_install_is_idempotent(self, server):
        bot = _bot(server)
        try:
            first = install_rate_limiter(bot, max_retries=2)
            assert install_rate_limiter(bot) is first
            assert first.max_retries == 2
            assert sum(isinstance(m, RateLimitMiddleware) for m in bot.session.middleware) == 1
        finally:
            await bot.session.close()


def test_a_calls_chat_and_weight() -> None:
    """What the limiter paces by: the target chat (None for an inline message's edit) and how many
    messages the call makes (an album counts each photo)."""
    from aiogram.methods import EditMessageText, SendMediaGroup
    from aiogram.types import InputMediaPhoto

    from bot.sender import _chat_key, _weight

    album = SendMediaGroup(chat_id="-100123", media=[InputMediaPhoto(media=f"p{n}") for n in range(3)])
    assert (_chat_key(SendMessage(chat_id=5, text="x")), _weight(SendMessage(chat_id=5, text="x"))) == (5, 1)
    assert (_chat_key(album), _weight(album)) == (-100123, 3)
    assert _chat_key(SendMessage(chat_id=" @channel ", text="x")) == "@channel"
    assert (_chat_key(EditMessageText(inline_message_id="i", text="y")), _weight(GetMe())) == (None, 1)


def test_rate_validation_and_limiter() -> None:
    with pytest.raises(ValueError):
        Rate(0, 1.0)
    limiter = Rate(20, 60.0, burst=5).limiter()
    assert limiter.max_rate == 5 and limiter.time_period == pytest.approx(15.0)
    assert Rate(30).per_second == 30


async def test_sender_warns_once_without_middleware(server, client, caplog) -> None:
    await client.set_rate_limits(False)
    await start_users(client, [8001])
    bot = _bot(server)
    try:
        sender = Sender(bot)
        with caplog.at_level("WARNING", logger="bot.sender"):
            assert (await sender.send_text(8001, "a")).ok
            assert (await sender.send_text(8001, "b")).ok
        assert sum("without RateLimitMiddleware" in r.message for r in caplog.records) == 1

        caplog.clear()
        paced = Sender(bot)  # created before installing is fine: checked at first send
        install_rate_limiter(bot)
        with caplog.at_level("WARNING", logger="bot.sender"):
            assert (await paced.send_text(8001, "c")).ok
        assert not any("without RateLimitMiddleware" in r.message for r in caplog.records)
    finally:
        await bot.session.close()
