"""One send rate for every bot process: Telegram's limits are per bot, not per process.

With REDIS_URL set, the overall and per-chat limits are counted in Redis (the ``limits`` library,
moving windows), so N processes together stay under ~30 messages/s and ~1/s per chat; a 429 with
``retry_after`` seen by any process pauses that chat for all of them.
"""

from __future__ import annotations

import asyncio
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

PREFIX = "huifang:rate"


def _item(limit: float, period: float) -> RateLimitItem:
    return parse(f"{max(1, int(limit))} per {max(1, round(period))} second")


class SharedLimits:
    """Acquire a slot (overall, then the chat's) from Redis, waiting as long as the window says."""

    def __init__(self, redis_url: str, *, overall, private, group) -> None:
        url = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
        self.limiter = MovingWindowRateLimiter(RedisStorage(url, key_prefix=PREFIX))
        self.redis = Redis.from_url(redis_url)
        self.overall = _item(overall.limit, overall.period)
        self.private = _item(private.burst or private.limit, (private.burst or private.limit) / private.per_second)
        self.group = _item(group.limit, group.period)

    async def _take(self, item: RateLimitItem, key: str) -> None:
        while not await self.limiter.hit(item, key):
            stats = await self.limiter.get_window_stats(item, key)
            await asyncio.sleep(min(max(stats.reset_time - time.time(), 0.01), 1.0))

    async def acquire(self, chat_id: int | str | None) -> None:
        """Wait for the chat's pause (a 429 anywhere), then for a chat slot and an overall slot."""
        if chat_id is not None:
            while (remaining := await self.redis.pttl(f"{PREFIX}:pause:{chat_id}")) > 0:
                await asyncio.sleep(remaining / 1000)
            grouped = isinstance(chat_id, str) or chat_id < 0
            await self._take(self.group if grouped else self.private, f"chat:{chat_id}")
        await self._take(self.overall, "overall")

    async def pause(self, chat_id: int | str | None, seconds: float) -> None:
        """Telegram said 429 for this chat: every process waits ``seconds`` before the next send."""
        if chat_id is not None:
            await self.redis.set(f"{PREFIX}:pause:{chat_id}", 1, px=max(1, int(seconds * 1000)))

    async def close(self) -> None:
        await self.redis.aclose()
