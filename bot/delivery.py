"""The delivery worker: sends what the outbox holds, in the recipient's language, and records it.

Notices are claimed in order, queued per recipient (one person's messages go out one after
another, in the order they were caused) and sent through the rate-limited sender. What happens
after a send is recorded at once: sent; refused for good (403 — the person is marked
unreachable and, for a staff ping, the ticket goes to someone else; a satisfaction prompt counts
as an attempt); or held up by a flood limit or the network — then the notice waits and is tried
again, and other people's messages keep flowing. The worker wakes when a transaction that
stored notices commits in this process, and polls for those of other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta

from aiogram.types import FSInputFile
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render import Renderer, Rendered
from bot.sender import Delivery, Sender
from models.db import statement_sessions
from models.tables import OutboxNotice
from models.types import Clock, utcnow
from services import outbox, routing, satisfaction
from services.media import MediaStore, is_upload
from services.notices import Audience, NoticeKind
from services.satisfaction import CallbackPolicy

STOP_GRACE = 10.0  # seconds a delivery pass in progress may take to end at shutdown
log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who claims: host, process and a random part (two apps in one process differ too)."""
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    """Claims due notices, renders and sends them, records the outcome."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], sender: Sender, renderer: Renderer, *,
                 policy: CallbackPolicy, clock: Clock = utcnow, poll: float = 1.0,
                 lease: timedelta = timedelta(minutes=5), batch: int = 100) -> None:
        self.sessions = sessions
        # claims, renders and marks are one statement at a time: no transaction around them
        self.statements = statement_sessions(sessions)
        self.sender = sender
        self.renderer = renderer
        self.policy = policy
        self.clock = clock
        self.poll = poll
        self.lease = lease
        self.batch = batch
        self.name = worker_name()
        self._wake = asyncio.Event()
        self._queues: dict[tuple[str, int], asyncio.Queue[OutboxNotice]] = {}
        self._in_hand: set[int] = set()  # ids queued or being sent by this worker
        self._consumers: dict[tuple[str, int], asyncio.Task] = {}
        self._task: asyncio.Task | None = None
        self._unsubscribe = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def kick(self) -> None:
        """Look at the outbox now (called after a commit that stored notices)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._unsubscribe = outbox.on_commit(self.kick)
        self._task = asyncio.create_task(self._run(), name="delivery")

    async def stop(self) -> None:
        """Stop claiming; let messages in hand go out (their claims would be retaken after the lease)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            # Let a pass in progress end: cancelled inside a query, it would leave its connection
            # to be reset mid-cancel (SQLAlchemy logs that as an error).
            self._stopping = True
            self._wake.set()
            done, _pending = await asyncio.wait({self._task}, timeout=STOP_GRACE)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._consumers:
            await asyncio.gather(*self._consumers.values(), return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad pass must not stop the next one
                log.exception("delivery pass failed")
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()

    async def drain(self) -> int:
        """Claim what is due and hand each notice to its recipient's queue; returns how many."""
        claimed = 0
        while True:
            async with self.statements() as session:
                rows = await outbox.claim(session, worker=self.name, now=self.clock(), lease=self.lease,
                                          limit=self.batch)
            for row in rows:
                if row.id in self._in_hand:
                    # Our own claim, still being sent, whose lease ran out (a long flood wait, or a
                    # clock moved ahead): claiming it again renewed the lease; sending it twice would
                    # repeat the message.
                    continue
                self._in_hand.add(row.id)
                key = (row.audience, row.recipient_id)
                self._queues.setdefault(key, asyncio.Queue()).put_nowait(row)
                if key not in self._consumers or self._consumers[key].done():
                    self._consumers[key] = asyncio.create_task(self._consume(key))
            claimed += len(rows)
            if len(rows) < self.batch:
                return claimed

    async def flush(self, timeout: float = 30.0) -> None:
        """Until nothing is due or in hand (tests and shutdown)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.drain()
                busy = [task for task in self._consumers.values() if not task.done()]
                if busy:
                    await asyncio.gather(*busy, return_exceptions=True)
                    continue
                async with self.statements() as session:
                    if not await outbox.due_count(session, now=self.clock()):
                        return
                await asyncio.sleep(0.05)

    async def _consume(self, key: tuple[str, int]) -> None:
        queue = self._queues[key]
        while not queue.empty():
            row = queue.get_nowait()
            try:
                await self.deliver(row)
            except Exception:
                log.exception("delivering notice %s (%s) failed", row.id, row.kind)
                await self._retry(row, "internal error", 30.0)
            finally:
                self._in_hand.discard(row.id)
        self._queues.pop(key, None)

    async def deliver(self, row: OutboxNotice) -> Delivery:
        """Render and send one notice, then record what happened."""
        async with self.statements() as session:
            rendered = await self.renderer.render(session, row)
        if rendered is None:
            async with self.sessions() as session:
                await outbox.mark_failed(session, row.id, worker=self.name, error="no recipient", now=self.clock())
            return Delivery(ok=False, error="no recipient")
        delivery = await self._send(rendered)
        now = self.clock()
        prompt = row.kind == NoticeKind.CALLBACK_PROMPT.value
        # a plain "sent" is one UPDATE; a prompt's is recorded together with its attempt
        async with (self.statements if delivery.ok and not prompt else self.sessions)() as session:
            if delivery.ok:
                await outbox.mark_sent(session, row.id, worker=self.name, message_id=delivery.message_id, now=now)
                if prompt:
                    await satisfaction.prompt_delivered(session, row.params["attempt"], chat_id=rendered.chat_id,
                                                        message_id=delivery.message_id, policy=self.policy, now=now)
            elif delivery.retry_after is not None and not delivery.forbidden:
                await self._retry(row, delivery.error or "not delivered", delivery.retry_after)
            else:
                await outbox.mark_failed(session, row.id, worker=self.name, error=delivery.error or "refused", now=now)
                await self._refused(session, row, delivery)
        return delivery

    async def _retry(self, row: OutboxNotice, error: str, after: float) -> None:
        async with self.sessions() as session:
            await outbox.retry_later(session, row.id, worker=self.name, error=error,
                                     due_at=self.clock() + timedelta(seconds=max(after, 0.5)))

    async def _refused(self, session: AsyncSession, row: OutboxNotice, delivery: Delivery) -> None:
        """Refused for good: remember who cannot be reached; a prompt counts as an attempt."""
        now = self.clock()
        if row.kind == NoticeKind.CALLBACK_PROMPT.value:
            await satisfaction.prompt_undeliverable(session, row.params["attempt"], delivery.error or "refused",
                                                    policy=self.policy, now=now)
        if not delivery.forbidden:
            return
        if row.audience == Audience.STAFF.value:
            await routing.staff_unreachable(session, row.recipient_id, now=now,
                                            complaint_id=row.complaint_id if row.kind == NoticeKind.ASSIGNED.value
                                            else None)
        else:
            await routing.resident_unreachable(session, row.recipient_id)

    async def _send(self, rendered: Rendered) -> Delivery:
        """The messages of one notice, in order; the first message's id is the notice's."""
        first: Delivery | None = None
        for text, markup in rendered.texts:
            delivery = await self.sender.send_text(rendered.chat_id, text, reply_markup=markup)
            if not delivery.ok:
                return delivery if first is None else first
            first = first or delivery
        if rendered.photos:
            media = MediaStore(self.renderer.settings.media_dir)
            photos = []
            for ref in rendered.photos:
                if not is_upload(ref):
                    photos.append(ref)  # a Telegram file_id
                elif (path := media.path(ref)) is not None:  # an uploaded photo lost from disk is left out
                    photos.append(FSInputFile(path))
            if photos:
                await self.sender.send_photos(rendered.chat_id, photos, caption=rendered.photo_caption)
        for path, caption in rendered.documents:
            await self.sender.send_document(rendered.chat_id, path, caption=caption)
        for chart in rendered.charts:
            await self.sender.send_photo_file(rendered.chat_id, chart)
        return first or Delivery(ok=True)
