"""One send rate for every bot process: Telegram's limits are per bot, not per process.

With REDIS_URL set, the overall and per-chat limits are counted in Redis (moving windows: at most
``limit`` sends in any ``period``), so N processes together stay under ~30 messages/s and ~1/s per
chat; a 429 with ``retry_after`` seen by any process pauses that chat for all of them.

One send costs one Redis round trip: a Lua script looks at the chat's pause, the chat's window
and the overall window and, when all three allow it, records the send in both windows at once
(atomically, so two processes never take the same last slot); otherwise it says how long to wait.
"""

from __future__ import annotations

import asyncio
import time

PREFIX = "huifang:rate"

# KEYS: the overall window, then (for a chat) the chat's pause and the chat's window.
# ARGV: now (ms), overall limit, overall period (ms), then the chat's limit and period (ms).
# A window is a list of send times, newest first, trimmed to its limit. Returns {0, 0} when the
# send is recorded, {1, ms} while the chat is paused, {2, ms} until a window has room.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local function wait_for(key, limit, period)
  if redis.call('LLEN', key) < limit then return 0 end
  local oldest = tonumber(redis.call('LINDEX', key, limit - 1))
  if oldest == nil then return 0 end
  local wait = oldest + period - now
  if wait > 0 then return wait end
  return 0
end
local windows = {{KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3])}}
if #KEYS == 3 then
  local paused = redis.call('PTTL', KEYS[2])
  if paused > 0 then return {1, paused} end
  table.insert(windows, 1, {KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5])})
end
for _, w in ipairs(windows) do
  local wait = wait_for(w[1], w[2], w[3])
  if wait > 0 then return {2, math.ceil(wait)} end
end
for _, w in ipairs(windows) do
  redis.call('LPUSH', w[1], ARGV[1])
  redis.call('LTRIM', w[1], 0, w[2] - 1)
  redis.call('PEXPIRE', w[1], w[3])
end
return {0, 0}
"""

PAUSED, FULL = 1, 2


class Window:
    """``limit`` sends in any ``period`` seconds."""

    def __init__(self, limit: float, period: float) -> None:
        self.limit = max(1, int(limit))
        self.period_ms = max(1, round(period)) * 1000


class SharedLimits:
    """Acquire a slot (the chat's and the overall one) from Redis, waiting as long as the windows say."""

    def __init__(self, redis_url: str, *, overall, private, group, clock=time.time) -> None:
        from redis.asyncio import Redis  # only with REDIS_URL: a bot without Redis never imports it

        from bot.storage import redis_connection_kwargs

        self.redis = Redis.from_url(redis_url, **redis_connection_kwargs())
        self._acquire = self.redis.register_script(_ACQUIRE)
        self.clock = clock
        self.overall = Window(overall.limit, overall.period)
        self.private = Window(private.burst or private.limit, (private.burst or private.limit) / private.per_second)
        self.group = Window(group.limit, group.period)

    async def try_acquire(self, chat_id: int | str | None) -> tuple[int, float]:
        """One attempt: ``(0, 0)`` when the send is recorded, else ``(PAUSED or FULL, seconds to wait)``."""
        now = f"{self.clock() * 1000:.3f}"
        keys = [f"{PREFIX}:overall"]
        args = [now, self.overall.limit, self.overall.period_ms]
        if chat_id is not None:
            grouped = isinstance(chat_id, str) or chat_id < 0
            window = self.group if grouped else self.private
            keys += [f"{PREFIX}:pause:{chat_id}", f"{PREFIX}:chat:{chat_id}"]
            args += [window.limit, window.period_ms]
        kind, ms = await self._acquire(keys=keys, args=args)
        return int(kind), int(ms) / 1000

    async def acquire(self, chat_id: int | str | None) -> None:
        """Wait for the chat's pause (a 429 anywhere), then for a chat slot and an overall slot."""
        while True:
            kind, seconds = await self.try_acquire(chat_id)
            if not kind:
                return
            await asyncio.sleep(seconds if kind == PAUSED else min(max(seconds, 0.01), 1.0))

    async def pause(self, chat_id: int | str | None, seconds: float) -> None:
        """Telegram said 429 for this chat: every process waits ``seconds`` before the next send."""
        if chat_id is not None:
            await self.redis.set(f"{PREFIX}:pause:{chat_id}", 1, px=max(1, int(seconds * 1000)))

    async def close(self) -> None:
        await self.redis.aclose()
