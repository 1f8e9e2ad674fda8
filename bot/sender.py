"""Outgoing messages: Telegram flood-limit pacing for every Bot API call, plus one sending facade.

Two pieces live here:

* :class:`RateLimitMiddleware` is an aiogram *request* middleware.  Installed on
  the bot's session (``bot.session.middleware(RateLimitMiddleware(...))`` or
  :func:`install_rate_limiter`), it paces every call that sends or edits a
  message, including handlers' ``message.answer(...)``:

  - an overall limiter (default 30 messages/s across all chats),
  - one limiter per chat (private chats 1/s, group chats ``id < 0`` 20 per 60 s),
    created lazily and dropped again once idle and fully drained,
  - calls to the same chat go out strictly one after another, in the order they
    were requested (a FIFO lock per chat, held only by that chat's calls),
  - ``429 retry_after`` is waited out and retried (per chat: other chats keep
    flowing), network errors and 5xx are retried with a short backoff,
  - ``403`` calls an optional ``on_forbidden(chat_id, description)`` hook and is
    re-raised.

  The limiters are :class:`aiolimiter.AsyncLimiter` leaky buckets.  Each rate is
  a :class:`Rate` with an optional *burst*: the defaults keep bursts well below
  Telegram's (and the sandbox's) bucket sizes, so that jitter between our clock
  and the server's never turns into a 429.

* :class:`Sender` is the one place services and the scheduler send from.  It
  never raises for Telegram errors; every call returns a :class:`Delivery`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram import methods as tg_methods
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup
from aiolimiter import AsyncLimiter

from bot import health

if TYPE_CHECKING:
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

ForbiddenHook = Callable[[int | str, str], Awaitable[Any]]
"""``async def on_forbidden(chat_id, description)``: called on every 403 before it is re-raised."""

# Bot API methods that put a message into a chat (or change one) and therefore count
# against Telegram's flood limits.  Looked up by name so that older/newer aiogram
# releases without some of them still import this module.
_LIMITED_METHOD_NAMES = (
    "SendMessage", "SendPhoto", "SendDocument", "SendMediaGroup", "SendAudio", "SendVideo",
    "SendVoice", "SendVideoNote", "SendAnimation", "SendSticker", "SendLocation", "SendVenue",
    "SendContact", "SendPoll", "SendDice", "SendInvoice", "SendGame", "SendPaidMedia",
    "SendChecklist", "SendLivePhoto",
    "CopyMessage", "CopyMessages", "ForwardMessage", "ForwardMessages",
    "EditMessageText", "EditMessageCaption", "EditMessageMedia", "EditMessageReplyMarkup",
    "EditMessageLiveLocation", "StopMessageLiveLocation", "EditMessageChecklist", "StopPoll",
)
LIMITED_METHODS: tuple[type, ...] = tuple(
    cls for name in _LIMITED_METHOD_NAMES if isinstance(cls := getattr(tg_methods, name, None), type)
)


@dataclass(frozen=True)
class Rate:
    """``limit`` messages per ``period`` seconds, at most ``burst`` of them back to back.

    ``burst`` defaults to ``limit`` (plain :class:`~aiolimiter.AsyncLimiter` semantics).
    A smaller burst keeps the same long-run rate but spreads the sends out.
    """

    limit: float
    period: float = 1.0
    burst: float | None = None

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.period <= 0 or (self.burst is not None and self.burst <= 0):
            raise ValueError(f"invalid rate {self!r}")

    @property
    def per_second(self) -> float:
        """The long-run rate in messages per second."""
        return self.limit / self.period

    def limiter(self) -> AsyncLimiter:
        """A fresh leaky-bucket limiter for this rate."""
        burst = self.burst or self.limit
        return AsyncLimiter(burst, burst / self.per_second)


DEFAULT_OVERALL_RATE = Rate(30, 1.0, burst=5)
DEFAULT_PRIVATE_RATE = Rate(1, 1.0)
DEFAULT_GROUP_RATE = Rate(20, 60.0, burst=5)


@dataclass
class _ChatState:
    """Per-chat pacing: a FIFO lock (ordering) and the chat's limiter."""

    limiter: AsyncLimiter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _field(method: Any, name: str) -> Any:
    """A method's field, or None when it has none: read from the model's own values, as pydantic's
    ``getattr`` of a missing name goes through its ``__getattr__`` and an AttributeError (two of
    them on every message sent)."""
    values = getattr(method, "__dict__", None)
    return values.get(name) if values is not None else getattr(method, name, None)


def _chat_key(method: Any) -> int | str | None:
    """The target chat of a method (None for inline-message edits)."""
    chat_id = _field(method, "chat_id")
    if isinstance(chat_id, str):
        stripped = chat_id.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        return stripped or None
    return chat_id


def _is_group(chat_id: int | str) -> bool:
    """Groups, supergroups and channels: negative ids or ``@username`` targets."""
    return isinstance(chat_id, str) or chat_id < 0


def _weight(method: Any) -> int:
    """How many messages a call produces (albums and batch copies count each one)."""
    for attr in ("media", "message_ids"):
        items = _field(method, attr)
        if isinstance(items, list) and items:
            return len(items)
    return 1


class RateLimitMiddleware(BaseRequestMiddleware):
    """Paces, orders and retries outgoing message calls (see the module docstring).

    :param overall: rate across all chats (default 30/s, burst 5).
    :param private: per private chat (default 1/s).
    :param group: per group/channel chat, ``chat_id < 0`` (default 20 per 60 s, burst 5).
    :param max_retries: how often a call is retried after ``429 retry_after`` before re-raising.
    :param retry_margin: seconds added to ``retry_after`` before retrying.
    :param network_retries: retries after network errors and 5xx answers.
    :param network_backoff: first backoff in seconds (doubles on each further retry).
    :param on_forbidden: ``async (chat_id, description)`` hook called on 403 (then re-raised).
    :param sweep_interval: how often (seconds) idle per-chat state is dropped.
    """

    def __init__(
        self,
        *,
        overall: Rate = DEFAULT_OVERALL_RATE,
        private: Rate = DEFAULT_PRIVATE_RATE,
        group: Rate = DEFAULT_GROUP_RATE,
        max_retries: int = 5,
        retry_margin: float = 0.25,
        network_retries: int = 2,
        network_backoff: float = 0.5,
        on_forbidden: ForbiddenHook | None = None,
        sweep_interval: float = 30.0,
        shared=None,
    ) -> None:
        self.overall = overall
        self.private = private
        self.group = group
        self.max_retries = max_retries
        self.retry_margin = retry_margin
        self.network_retries = network_retries
        self.network_backoff = network_backoff
        self.on_forbidden = on_forbidden
        self.sweep_interval = sweep_interval
        self.shared = shared  # bot.shared_rate.SharedLimits: the limits counted across processes
        self._global = overall.limiter()
        self._chats: dict[int | str, _ChatState] = {}
        self._last_sweep = time.monotonic()
        self.retried_429 = 0
        """How many 429 answers were waited out (diagnostics)."""

    # ------------------------------------------------------------------ per-chat state
    @property
    def tracked_chats(self) -> int:
        """How many chats currently hold pacing state (bounded: idle chats are dropped)."""
        return len(self._chats)

    def _enter_chat(self, chat_id: int | str) -> _ChatState:
        """The chat's state (created lazily), counted as in use until the caller leaves."""
        self._maybe_sweep()
        state = self._chats.get(chat_id)
        if state is None:
            rate = self.group if _is_group(chat_id) else self.private
            state = self._chats[chat_id] = _ChatState(rate.limiter())
        state.users += 1
        return state

    def _maybe_sweep(self) -> None:
        """Drop chats nobody is sending to whose limiter has fully drained (same as fresh)."""
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        idle = [
            chat_id
            for chat_id, state in self._chats.items()
            if state.users == 0 and state.limiter.has_capacity(state.limiter.max_rate)
        ]
        for chat_id in idle:
            del self._chats[chat_id]

    # ------------------------------------------------------------------ middleware
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Pass non-message calls through; pace, order and retry message calls."""
        if not isinstance(method, LIMITED_METHODS):
            return await make_request(bot, method)
        chat_id = _chat_key(method)
        if chat_id is None:  # inline-message edit: only the overall limit applies
            return await self._attempts(make_request, bot, method, None, None)
        state = self._enter_chat(chat_id)
        try:
            async with state.lock:  # FIFO: same-chat calls go out in request order
                return await self._attempts(make_request, bot, method, chat_id, state.limiter)
        finally:
            state.users -= 1

    async def _attempts(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat_id: int | str | None,
        chat_limiter: AsyncLimiter | None,
    ) -> Response[TelegramType]:
        """Acquire the limiters (chat first, then overall), send, retry on 429/network errors."""
        weight = _weight(method)
        flood_retries = network_retries = 0
        name = type(method).__name__
        while True:
            if self.shared is not None:
                await self.shared.acquire(chat_id)
            else:
                if chat_limiter is not None:
                    await chat_limiter.acquire(min(weight, chat_limiter.max_rate))
                await self._global.acquire(min(weight, self._global.max_rate))
            try:
                response = await make_request(bot, method)
                health.SENT.inc(weight)
                return response
            except TelegramRetryAfter as exc:
                health.REFUSED.labels(code="429").inc()
                if flood_retries >= self.max_retries:
                    log.error("%s to %s: still flood-limited after %d retries", name, chat_id, flood_retries)
                    raise
                flood_retries += 1
                self.retried_429 += 1
                delay = max(0.0, float(exc.retry_after)) + self.retry_margin
                log.warning("%s to %s: 429, retry %d in %.2fs", name, chat_id, flood_retries, delay)
                if self.shared is not None:
                    await self.shared.pause(chat_id, delay)  # every process waits for this chat
                await asyncio.sleep(delay)
            except TelegramForbiddenError as exc:
                health.REFUSED.labels(code="403").inc()
                await self._forbidden(chat_id, exc.message)
                raise
            except TelegramEntityTooLarge:
                raise
            except (TelegramNetworkError, TelegramServerError) as exc:
                if network_retries >= self.network_retries:
                    raise
                delay = self.network_backoff * 2**network_retries
                network_retries += 1
                log.warning("%s to %s: %s; retry %d in %.2fs", name, chat_id, exc, network_retries, delay)
                await asyncio.sleep(delay)

    async def _forbidden(self, chat_id: int | str | None, description: str) -> None:
        """Run the 403 hook; its own failures are logged, never mask the 403."""
        log.info("chat %s unreachable: %s", chat_id, description)
        if self.on_forbidden is None or chat_id is None:
            return
        try:
            await self.on_forbidden(chat_id, description)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("on_forbidden hook failed for chat %s", chat_id)


def install_rate_limiter(bot: Bot, **kwargs: Any) -> RateLimitMiddleware:
    """Install a :class:`RateLimitMiddleware` on ``bot.session`` once; return the installed one.

    ``kwargs`` go to the constructor; if one is installed already it is returned unchanged.
    """
    for middleware in bot.session.middleware:
        if isinstance(middleware, RateLimitMiddleware):
            return middleware
    middleware = RateLimitMiddleware(**kwargs)
    bot.session.middleware(middleware)
    return middleware


# ---------------------------------------------------------------------- Sender


@dataclass(frozen=True)
class Delivery:
    """Outcome of one send: ``message_id`` of the (first) message sent, or why it failed."""

    ok: bool
    message_id: int | None = None
    error: str | None = None
    forbidden: bool = False
    retry_after: float | None = None  # flood limit or network trouble: worth trying again after this


_EDIT_NOOP_MARKERS = ("message is not modified", "message to edit not found")


def _describe(exc: BaseException) -> str:
    """The Telegram description of an error (without aiogram's prefix)."""
    return getattr(exc, "message", None) or str(exc)


class Sender:
    """The one place services and the scheduler send messages from.

    All calls go through the bot's session, so a :class:`RateLimitMiddleware` installed
    there paces and retries them.  Telegram errors never escape: they come back as a
    :class:`Delivery` with ``ok=False`` (``forbidden=True`` for 403).
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._checked = False

    def _check_paced(self) -> None:
        """Warn once if the bot's session has no RateLimitMiddleware (checked at first send)."""
        if self._checked:
            return
        self._checked = True
        if not any(isinstance(m, RateLimitMiddleware) for m in self.bot.session.middleware):
            log.warning("Sender used on a bot without RateLimitMiddleware: sends are not paced")

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        reply_markup: Any = None,
        disable_notification: bool = False,
    ) -> Delivery:
        """Send a text message (bot's default parse mode, HTML)."""
        self._check_paced()
        try:
            message = await self.bot.send_message(
                chat_id, text, reply_markup=reply_markup, disable_notification=disable_notification
            )
        except (TelegramAPIError, AiogramError) as exc:
            return self._failed("sendMessage", chat_id, exc)
        return Delivery(ok=True, message_id=message.message_id)

    async def send_photos(self, chat_id: int, file_ids: list, caption: str | None = None) -> Delivery:
        """Send photos (file_ids, or files from disk) one by one, the caption on the first;
        ``message_id`` is the first's.

        The sandbox has no ``sendMediaGroup``, so albums go out as consecutive photos; the
        per-chat ordering of the middleware keeps them together and in order.  Stops at the
        first failure (the Delivery then has ``ok=False`` and the first message id, if any).
        """
        if not file_ids:
            raise ValueError("send_photos needs at least one file_id")
        self._check_paced()
        first_id: int | None = None
        for index, file_id in enumerate(file_ids):
            try:
                message = await self.bot.send_photo(chat_id, file_id, caption=caption if index == 0 else None)
            except (TelegramAPIError, AiogramError) as exc:
                failed = self._failed("sendPhoto", chat_id, exc)
                return Delivery(ok=False, message_id=first_id, error=failed.error, forbidden=failed.forbidden,
                                retry_after=failed.retry_after)
            if first_id is None:
                first_id = message.message_id
        return Delivery(ok=True, message_id=first_id)

    async def send_document(self, chat_id: int, path, caption: str | None = None) -> Delivery:
        """Send a file from disk."""
        from aiogram.types import FSInputFile

        self._check_paced()
        try:
            message = await self.bot.send_document(chat_id, FSInputFile(path), caption=caption)
        except (TelegramAPIError, AiogramError) as exc:
            return self._failed("sendDocument", chat_id, exc)
        return Delivery(ok=True, message_id=message.message_id)

    async def send_photo_file(self, chat_id: int, path) -> Delivery:
        """Send a picture from disk (e.g. a chart)."""
        from aiogram.types import FSInputFile

        self._check_paced()
        try:
            message = await self.bot.send_photo(chat_id, FSInputFile(path))
        except (TelegramAPIError, AiogramError) as exc:
            return self._failed("sendPhoto", chat_id, exc)
        return Delivery(ok=True, message_id=message.message_id)

    async def edit_markup(
        self, chat_id: int, message_id: int, reply_markup: InlineKeyboardMarkup | None = None
    ) -> Delivery:
        """Replace (or with None remove) a message's inline keyboard.

        "message is not modified" and "message to edit not found" give ``ok=False`` quietly.
        """
        self._check_paced()
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
            )
        except TelegramBadRequest as exc:
            description = _describe(exc)
            if any(marker in description.lower() for marker in _EDIT_NOOP_MARKERS):
                log.debug("editMessageReplyMarkup %s/%s: %s", chat_id, message_id, description)
                return Delivery(ok=False, message_id=message_id, error=description)
            return self._failed("editMessageReplyMarkup", chat_id, exc, message_id)
        except (TelegramAPIError, AiogramError) as exc:
            return self._failed("editMessageReplyMarkup", chat_id, exc, message_id)
        return Delivery(ok=True, message_id=message_id)

    @staticmethod
    def _failed(what: str, chat_id: int, exc: BaseException, message_id: int | None = None) -> Delivery:
        """Log a failed call and turn it into a Delivery."""
        description = _describe(exc)
        forbidden = isinstance(exc, TelegramForbiddenError)
        retry_after = None
        if isinstance(exc, TelegramRetryAfter):
            retry_after = float(exc.retry_after)
        elif isinstance(exc, (TelegramNetworkError, TelegramServerError)):
            retry_after = 5.0
        if forbidden:
            log.info("%s to %s: chat unreachable (%s)", what, chat_id, description)
        else:
            log.warning("%s to %s failed: %s: %s", what, chat_id, type(exc).__name__, description)
        return Delivery(ok=False, message_id=message_id, error=description, forbidden=forbidden,
                        retry_after=retry_after)
