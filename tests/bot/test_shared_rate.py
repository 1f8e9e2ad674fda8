"""The send rate shared through Redis: moving windows per chat and overall, a pause seen by every
process, and one Redis round trip per send."""

from __future__ import annotations

import pytest

from bot.sender import Rate
from bot.shared_rate import FULL, PAUSED, SharedLimits


class Clock:
    def __init__(self, at: float = 1_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def limits(redis_url: str, clock: Clock) -> SharedLimits:
    return SharedLimits(redis_url, overall=Rate(3, 1.0), private=Rate(1, 1.0, burst=2), group=Rate(20, 60.0, burst=5),
                        clock=clock)


@pytest.fixture
async def pair(redis_url):
    clock = Clock()
    one, two = limits(redis_url, clock), limits(redis_url, clock)  # two processes
    yield one, two, clock
    await one.close()
    await two.close()


async def test_a_chat_gets_its_burst_then_waits_for_the_window(pair):
    one, two, clock = pair
    assert await one.try_acquire(7) == (0, 0)
    assert await two.try_acquire(7) == (0, 0)
    kind, wait = await one.try_acquire(7)  # 2 per 2 s for a private chat, counted across processes
    assert kind == FULL and wait == pytest.approx(2.0)
    clock.at += 1.5
    kind, wait = await two.try_acquire(7)
    assert kind == FULL and wait == pytest.approx(0.5)
    clock.at += 0.5
    assert await two.try_acquire(7) == (0, 0)


async def test_the_overall_window_counts_every_chat_and_a_refusal_takes_no_slot(pair):
    one, two, clock = pair
    for chat in (1, 2, 3):
        assert await one.try_acquire(chat) == (0, 0)
    kind, wait = await two.try_acquire(4)
    assert kind == FULL and wait == pytest.approx(1.0)
    clock.at += 1.0
    # chat 4 was refused above without using its own window: both of its slots are still free
    assert await two.try_acquire(4) == (0, 0)
    assert await two.try_acquire(None) == (0, 0)
    assert await one.try_acquire(None) == (0, 0)
    assert (await one.try_acquire(4))[0] == FULL


async def test_a_pause_from_one_process_holds_the_chat_in_every_process(pair):
    one, two, clock = pair
    await one.pause(9, 3.0)
    kind, wait = await two.try_acquire(9)
    assert kind == PAUSED and 2.9 < wait <= 3.0
    assert await two.try_acquire(10) == (0, 0)  # other chats go on


async def test_one_round_trip_per_send(pair):
    one, _two, _clock = pair
    await one.acquire(12)  # the script is loaded into Redis once
    calls = []
    execute = one.redis.execute_command

    async def counted(*args, **kwargs):
        calls.append(args[0])
        return await execute(*args, **kwargs)

    one.redis.execute_command = counted
    await one.acquire(11)
    assert calls == ["EVALSHA"]


class TestWhoCountsInRedis:
    """Webhook processes share the rate through Redis; a polling bot is the only one sending."""

    @staticmethod
    async def _limiter_of(redis_url: str, classifier, webhook_url: str | None):
        import tempfile

        from bot.app import HuifangApp
        from bot.sender import RateLimitMiddleware
        from bot.settings import Settings

        settings = Settings(bot_token="123456:TEST-token", telegram_api_base="http://127.0.0.1:9", report_day=0,
                            database_url=f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/x.db", redis_url=redis_url,
                            webhook_url=webhook_url, webhook_secret="s" if webhook_url else None, _env_file=None)
        app = HuifangApp(settings, classifier=classifier, with_scheduler=False)
        try:
            [limiter] = [m for m in app.bot.session.middleware if isinstance(m, RateLimitMiddleware)]
            return limiter.shared, app.shared_limits
        finally:
            if app.shared_limits is not None:
                await app.shared_limits.close()
            await app.dispatcher.storage.close()
            await app.bot.session.close()
            await app.engine.dispose()

    async def test_a_polling_bot_paces_its_sends_itself(self, redis_url, classifier):
        shared, kept = await self._limiter_of(redis_url, classifier, None)
        assert shared is None and kept is None

    async def test_webhook_processes_count_every_send_in_redis(self, redis_url, classifier):
        shared, kept = await self._limiter_of(redis_url, classifier, "https://desk.example.com/tg")
        assert isinstance(shared, SharedLimits) and shared is kept
