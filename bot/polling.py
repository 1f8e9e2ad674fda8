"""A Bot API session that survives one bad update: an update aiogram cannot validate is logged with
its ``update_id`` and handed on empty (no handler matches it), so the offset moves past it and
everyone else is answered — instead of ``getUpdates`` failing at the same offset forever."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiogram.types.update import UpdateTypeLookupError
from aiohttp import ClientError
import orjson
from pydantic import ValidationError

from bot.health import HANDLER_SECONDS, UPDATES
from bot.journal import UpdateJournal

log = logging.getLogger(__name__)


def sanitise_updates(content: str, bot: Bot) -> str:
    """Replace each update that does not validate by ``{"update_id": n}``; other content unchanged."""
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return content
    cleaned, dropped = [], []
    for raw in data["result"]:
        try:
            Update.model_validate(raw, context={"bot": bot})
            cleaned.append(raw)
        except ValidationError as error:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                dropped.append(repr(raw)[:80])
                continue
            log.warning("update %s cannot be read and is skipped: %s", update_id, str(error).splitlines()[0])
            cleaned.append({"update_id": update_id})
    if dropped:
        log.warning("getUpdates returned entries without an update_id, skipped: %s", dropped)
    if len(cleaned) == len(data["result"]) and not dropped and cleaned == data["result"]:
        return content
    return json.dumps({**data, "result": cleaned})


_RESPONSE_TYPES: dict[Any, type] = {}
_JSON_BODY = {"Content-Type": "application/json"}


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _response_type(method: TelegramMethod) -> type:
    returning = method.__returning__
    response_type = _RESPONSE_TYPES.get(returning)
    if response_type is None:
        response_type = _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[index]
    return response_type


# Telegram's answer: {"ok":true,"result":[{"update_id":N,...},...]}. A JSON string cannot hold an
# unescaped quote, so these patterns match keys only, never text inside a message.
_ENVELOPE = re.compile(r'\s*\{\s*"ok"\s*:\s*true\s*,\s*"result"\s*:\s*\[\s*')
_UPDATE_START = re.compile(r'\{\s*"update_id"\s*:\s*(\d+)\s*[,}]')
_UPDATE_ID_KEY = re.compile(r'"update_id"\s*:')
_CLOSE = re.compile(r'\]\s*\}\s*')


def _drop_by_scan(content: str, seen_through: int) -> str | None:
    """``drop_updates`` without parsing the updates it drops, or None when the answer is not laid out
    as Telegram lays it out (every update an object whose first key is ``update_id``, ascending ids,
    ``result`` the last key): then the caller parses it."""
    envelope = _ENVELOPE.match(content)
    if envelope is None:
        return None
    starts = list(_UPDATE_START.finditer(content, envelope.end()))
    if not starts:
        return content if _CLOSE.fullmatch(content, envelope.end()) else None
    if starts[0].start() != envelope.end():
        return None
    if len(starts) != len(_UPDATE_ID_KEY.findall(content, envelope.end())):
        return None  # an update_id that does not open its update: read it the long way
    ids = [int(match.group(1)) for match in starts]
    if any(a >= b for a, b in zip(ids, ids[1:])):
        return None
    kept = next((i for i, update_id in enumerate(ids) if update_id > seen_through), len(ids))
    if kept == 0:
        return content
    head = content[:envelope.end()]
    if kept < len(ids):
        return head + content[starts[kept].start():]
    end = content.rfind("]")
    if end < 0 or not _CLOSE.fullmatch(content, end):
        return None
    return head + content[end:]


def drop_updates(content: str, seen_through: int) -> str:
    """The getUpdates answer without the updates up to ``seen_through`` (in hand or handled).

    Usually scanned, not parsed: with many updates in hand the answer repeats all of them (tens of
    kilobytes for one or two new updates), and parsing it whole cost more than handling an update."""
    scanned = _drop_by_scan(content, seen_through)
    if scanned is not None:
        return scanned
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return content
    kept = [raw for raw in data["result"]
            if not (isinstance(raw, dict) and isinstance(raw.get("update_id"), int) and raw["update_id"] <= seen_through)]
    return content if len(kept) == len(data["result"]) else json.dumps({**data, "result": kept})


class TolerantSession(AiohttpSession):
    """AiohttpSession whose getUpdates skips unreadable updates one by one, with a leaner request path.

    It also holds on to aiogram's ``Response[T]`` models: pydantic keeps parametrised generics
    only weakly, so every garbage collection dropped them and the next reply rebuilt the model
    (tens of milliseconds each, several times a second under load).

    ``seen_through``: the highest update_id the poller has taken; a getUpdates answer that
    repeats updates up to it (in hand or handled, not confirmed yet) is read without them.

    A call without files goes out as one JSON body (the Bot API takes ``application/json`` as it
    takes forms) instead of a URL-encoded form whose every non-ASCII character is escaped, and
    its answer is validated straight from the bytes (pydantic's own JSON parser: no dict of the
    answer is built first). Files still go as aiogram sends them; an answer that is not a plain
    success (an error, a 429, a body that does not validate) takes aiogram's path, which raises
    what aiogram raises.
    """

    seen_through: int | None = None

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", orjson.loads)
        kwargs.setdefault("json_dumps", _json_dumps)
        super().__init__(**kwargs)

    def json_body(self, bot: Bot, method: TelegramMethod) -> bytes | None:
        """The call's parameters as one JSON object, as aiogram would put them in a form (the same
        values left out: None and empty strings), or None when it sends a file."""
        files: dict[str, Any] = {}
        payload: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if value is None or value == "":
                continue
            payload[key] = value
        return None if files else orjson.dumps(payload)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        if isinstance(method, GetUpdates):
            return await super().make_request(bot, method, timeout)
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=body, headers=_JSON_BODY,
                                    timeout=self.timeout if timeout is None else timeout) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        if 200 <= status <= 226:
            try:
                response = _response_type(method).model_validate_json(raw, context={"bot": bot})
            except ValidationError:
                response = None
            if response is not None and response.ok:
                return response.result
        content = raw.decode("utf-8", errors="replace")
        return self.check_response(bot=bot, method=method, status_code=status, content=content).result

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        _response_type(method)
        if isinstance(method, GetUpdates) and self.seen_through is not None:
            content = drop_updates(content, self.seen_through)
        if isinstance(method, GetUpdates):
            # Validated once when every update reads (the usual case); one by one only when the
            # batch as a whole does not.
            try:
                return super().check_response(bot, method, status_code, content)
            except ClientDecodeError as error:
                if not isinstance(error.original, ValidationError):
                    raise
            content = sanitise_updates(content, bot)
        return super().check_response(bot, method, status_code, content)


def chat_of(update: Update) -> int | None:
    """The chat an update belongs to (its updates are handled one after another), if any."""
    try:
        event = update.event
    except UpdateTypeLookupError:
        return None
    chat = getattr(event, "chat", None) or getattr(getattr(event, "message", None), "chat", None)
    if chat is not None:
        return chat.id
    user = getattr(event, "from_user", None)
    return user.id if user is not None else None


class BatchPoller:
    """Long polling that never loses an update it took: it is confirmed to Telegram only once it
    was handled, or kept in the poller's journal until then.

    aiogram's own loop confirms updates as soon as it has started their handlers, so a process
    killed mid-update loses them. Here, with a journal (``bot.journal``), the updates in hand are
    written to it before the next ``getUpdates`` confirms them, and leave it once handled; a
    process started again handles what the journal holds first. Without one (or while it cannot
    be written) the ``offset`` of the next ``getUpdates`` stays at the oldest update still being
    handled: Telegram gives a killed process the updates it had in hand again — but every answer
    repeats them (they are left out: see :class:`TolerantSession`). Either way at least once; the
    use cases are idempotent, so a repeat changes nothing.

    Updates are handled concurrently and the next ones are fetched while earlier ones are still
    being handled; one chat's updates are handled one after another, in order. With the offset
    held back, nothing new in hand but updates still being handled, the poller waits for one of
    them to finish before asking again.
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, timeout: int, journal: UpdateJournal | None = None,
                 journal_flush: float = 1.0) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.timeout = timeout
        self.journal = journal
        # Handled updates leave the journal with the next poll's write, or this many seconds after
        # they were handled when no poll comes by then (a long poll waiting on a quiet chat).
        self.journal_flush = journal_flush
        self._journal_lock = asyncio.Lock()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task | None = None
        self._in_hand: dict[int, asyncio.Task] = {}  # update_id → its task, until it is handled
        self._last_of_chat: dict[int, asyncio.Task] = {}  # chat → the task of its latest update
        self._unwritten: dict[int, Update] = {}  # in hand, not in the journal: they hold the offset back
        self._written: set[int] = set()  # in hand and in the journal
        self._handled: set[int] = set()  # in the journal, handled: to be removed from it

    @property
    def in_hand(self) -> int:
        """How many updates are being handled (or wait for their chat's earlier ones)."""
        return len(self._in_hand)

    def _offset(self, seen: int | None) -> int | None:
        held = self._unwritten if self.journal is not None else self._in_hand
        if held:
            return min(held)
        return seen + 1 if seen is not None else None

    def _held_back(self, offset: int | None) -> bool:
        """Whether the offset waits for an update still in hand (the answer repeats it)."""
        return offset is not None and offset in self._in_hand

    async def _write_journal(self) -> None:
        """Put the updates in hand into the journal and take the handled ones out, in one round
        trip; when that fails they stay where they are and the offset stays held back."""
        async with self._journal_lock:
            await self._write_journal_now()

    def _flush_later(self) -> None:
        if self._flush_timer is None and not self._stopping.is_set():
            self._flush_timer = asyncio.get_running_loop().call_later(self.journal_flush, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        self._flushing = asyncio.create_task(self._write_journal())

    async def _write_journal_now(self) -> None:
        if not self._unwritten and not self._handled:
            return
        add = {update_id: update.model_dump_json(by_alias=True, exclude_none=True)
               for update_id, update in self._unwritten.items()}
        remove = set(self._handled)
        try:
            await self.journal.sync(add, remove)
        except Exception as error:  # the database or Redis away: Telegram keeps them meanwhile
            log.error("update journal not written: %s: %s", type(error).__name__, error)
            return
        for update_id in add:
            # handled while being written: taken out with the next write
            self._unwritten.pop(update_id, None)
            if update_id in self._in_hand:
                self._written.add(update_id)
            else:
                self._handled.add(update_id)
                self._flush_later()
        self._handled -= remove

    async def _replay_journal(self) -> int | None:
        """Start the updates a stopped process left in the journal; the highest update_id kept."""
        try:
            kept = await self.journal.load()
        except Exception as error:
            log.error("update journal not read: %s: %s", type(error).__name__, error)
            return None
        for update_id, body in kept:
            try:
                update = Update.model_validate_json(body, context={"bot": self.bot})
            except ValidationError as error:
                log.warning("kept update %s cannot be read and is skipped: %s", update_id,
                            str(error).splitlines()[0])
                self._handled.add(update_id)
                continue
            self._written.add(update_id)
            self._start(update)
        if kept:
            log.info("handling %d updates kept from before the last stop", len(kept))
        return kept[-1][0] if kept else None

    def _start(self, update: Update) -> None:
        chat = chat_of(update)
        before = self._last_of_chat.get(chat) if chat is not None else None
        task = asyncio.create_task(self._after(before, update))
        self._in_hand[update.update_id] = task
        if chat is not None:
            self._last_of_chat[chat] = task
        task.add_done_callback(lambda done, uid=update.update_id, key=chat: self._done(done, uid, key))

    def _done(self, task: asyncio.Task, update_id: int, chat: int | None) -> None:
        self._in_hand.pop(update_id, None)
        self._unwritten.pop(update_id, None)  # handled before it had to be written
        if update_id in self._written:
            self._written.discard(update_id)
            self._handled.add(update_id)
            self._flush_later()
        if chat is not None and self._last_of_chat.get(chat) is task:
            del self._last_of_chat[chat]

    async def _after(self, before: asyncio.Task | None, update: Update) -> None:
        if before is not None:
            await asyncio.gather(before, return_exceptions=True)
        await self._handle(update)

    async def run(self) -> None:
        """Poll until stop(); updates already fetched are handled before returning."""
        allowed = self.dispatcher.resolve_used_update_types()
        backoff = Backoff(config=BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1))
        seen: int | None = None  # the highest update_id fetched
        if self.journal is not None:
            seen = await self._replay_journal()
        request_timeout = int((self.bot.session.timeout or 60) + self.timeout)
        session = self.bot.session
        try:
            while not self._stopping.is_set():
                if self.journal is not None:
                    await self._write_journal()
                offset = self._offset(seen)
                held_back = self._held_back(offset)
                if isinstance(session, TolerantSession):
                    session.seen_through = seen if held_back else None
                # With updates in hand below the offset the server answers at once (they are not confirmed yet).
                self._fetch = asyncio.create_task(self.bot.get_updates(
                    offset=offset, timeout=0 if held_back else self.timeout,
                    allowed_updates=allowed, request_timeout=request_timeout))
                self.ready.set()
                try:
                    updates = await self._fetch
                except asyncio.CancelledError:
                    if self._stopping.is_set():
                        break
                    raise
                except Exception as error:  # network trouble, 409 from a second poller …: wait and try again
                    log.error("getUpdates failed: %s: %s", type(error).__name__, error)
                    await backoff.asleep()
                    continue
                finally:
                    self._fetch = None
                backoff.reset()
                fresh = [u for u in updates if u.update_id not in self._in_hand and (seen is None or u.update_id > seen)]
                for update in fresh:
                    if self.journal is not None:
                        self._unwritten[update.update_id] = update
                    self._start(update)
                    seen = update.update_id
                if not fresh and self._held_back(self._offset(seen)):
                    # nothing new: ask again once an update in hand is done (its offset moves on)
                    stop = asyncio.create_task(self._stopping.wait())
                    await asyncio.wait({*self._in_hand.values(), stop}, return_when=asyncio.FIRST_COMPLETED)
                    stop.cancel()
        finally:
            if self._in_hand:
                await asyncio.gather(*self._in_hand.values(), return_exceptions=True)
            if self.journal is not None:
                if self._flush_timer is not None:
                    self._flush_timer.cancel()
                    self._flush_timer = None
                if self._flushing is not None:
                    await asyncio.gather(self._flushing, return_exceptions=True)
                await self._write_journal()  # everything is handled: the journal is emptied
            if isinstance(session, TolerantSession):
                session.seen_through = None

    async def _handle(self, update: Update) -> None:
        try:
            update.event_type  # noqa: B018 - raises for an update without anything in it
        except UpdateTypeLookupError:
            return  # an unreadable update we emptied (see sanitise_updates), or an unknown kind
        UPDATES.labels(kind=update.event_type).inc()
        try:
            with HANDLER_SECONDS.time():
                await self.dispatcher.feed_update(self.bot, update)
        except Exception:  # the errors router already answered; never let one update stop the loop
            log.exception("update %s failed", update.update_id)

    def stop(self) -> None:
        """Stop after the updates in hand (a long poll that is only waiting is cut short)."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()
