"""The periodic job: expire unanswered prompts, claim and send due ones, apply the closing rules.

APScheduler only drives the clock (every SCHEDULER_TICK); what is due lives in the database, so
several processes can tick at once and a restart picks up where the last one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.notify import Notifier
from models.types import utcnow
from services import callbacks
from services.callbacks import CallbackPolicy

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who claims: host, process and a random part (two apps in one process differ too)."""
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CallbackWorker:
    """One tick of callback work; safe to run in several processes against one database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], notifier: Notifier, policy: CallbackPolicy,
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.policy = policy
        self.clock = clock  # tests drive a day of slots in seconds with their own clock
        self.name = worker_name()

    async def tick(self) -> dict[str, int]:
        """Run every step once; returns counts (for logs and tests)."""
        now = self.clock()
        counts = {"expired": 0, "sent": 0, "failed": 0, "closed": 0}
        async with self.sessions() as session:
            await callbacks.release_stale_claims(session, self.policy, now)
            counts["expired"] = len(await callbacks.expire_unanswered(session, policy=self.policy, now=now))
            claimed = await callbacks.claim_due(session, worker=self.name, now=now)
        for attempt_id in claimed:
            async with self.sessions() as session:
                job = await callbacks.prepare(session, attempt_id, worker=self.name, policy=self.policy, now=self.clock())
                if job is None:
                    continue
                delivery = await self.notifier.callback_prompt(job)
                if delivery.ok:
                    await callbacks.mark_sent(session, attempt_id, chat_id=job.resident.chat_id,
                                              message_id=delivery.message_id, policy=self.policy, now=self.clock())
                    counts["sent"] += 1
                else:
                    await callbacks.mark_failed(session, attempt_id, delivery.error or "not delivered",
                                                policy=self.policy, now=self.clock())
                    counts["failed"] += 1
        async with self.sessions() as session:
            counts["closed"] = len(await callbacks.close_due(session, policy=self.policy, now=now))
        if any(counts.values()):
            log.info("callback tick %s: %s", self.name, counts)
        return counts


class Scheduler:
    """APScheduler wrapper: every SCHEDULER_TICK run each worker once, never overlapping itself."""

    def __init__(self, *workers, tick_seconds: float) -> None:
        self.workers = workers
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(self._safe_tick, "interval", seconds=tick_seconds, id="tick",
                               max_instances=1, coalesce=True, next_run_time=utcnow())
        self._current: asyncio.Task | None = None

    async def _safe_tick(self) -> None:
        self._current = asyncio.current_task()
        try:
            for worker in self.workers:
                try:
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
