"""The periodic jobs' clock: each tick runs use cases that store notices; delivery sends them.

APScheduler only drives the clock (every SCHEDULER_TICK); what is due lives in the database, so
several processes can tick at once and a restart picks up where the last one stopped. A tick
never sends anything itself, so one slow or flood-limited chat cannot hold it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.types import utcnow
from bot.health import TICK_SECONDS
from services import satisfaction
from services.satisfaction import CallbackPolicy

log = logging.getLogger(__name__)


class CallbackWorker:
    """One tick of callback work; safe to run in several processes against one database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: CallbackPolicy,
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.policy = policy
        self.clock = clock  # tests drive a day of slots in seconds with their own clock

    async def tick(self) -> dict[str, int]:
        """Expire unanswered prompts, queue due ones, apply the closing rules; returns counts."""
        now = self.clock()
        async with self.sessions() as session:
            expired = await satisfaction.expire_unanswered(session, policy=self.policy, now=now)
            queued = await satisfaction.queue_due_prompts(session, policy=self.policy, now=now)
            closed = await satisfaction.close_due(session, policy=self.policy, now=now)
        counts = {"expired": len(expired), "queued": len(queued), "closed": len(closed)}
        if any(counts.values()):
            log.info("callback tick: %s", counts)
        return counts


class Scheduler:
    """APScheduler wrapper: every SCHEDULER_TICK run each worker once, never overlapping itself."""

    def __init__(self, *workers, tick_seconds: float) -> None:
        self.workers = workers
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(self._safe_tick, "interval", seconds=tick_seconds, id="tick",
                               max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=utcnow())
        self._current: asyncio.Task | None = None

    async def _safe_tick(self) -> None:
        self._current = asyncio.current_task()
        try:
            for worker in self.workers:
                try:
                    with TICK_SECONDS.labels(job=type(worker).__name__).time():
                        await worker.tick()
                except Exception:  # a bad tick must not stop the next one, nor the other workers
                    log.exception("%s tick failed", type(worker).__name__)
        finally:
            self._current = None

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop ticking and let a tick in progress finish (it holds database sessions)."""
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        if self._current is not None and self._current is not asyncio.current_task():
            await asyncio.gather(self._current, return_exceptions=True)
        self.scheduler.shutdown(wait=False)
