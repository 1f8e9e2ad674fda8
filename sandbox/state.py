"""In-memory world of the Telegram sandbox: users, chats, messages, files, updates.

Everything here is plain synchronous data manipulation (one event loop, no
locks needed); waiting is done through :class:`Notifier`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import math
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable


class ApiError(Exception):
    """A Bot API error answered as ``{"ok": false, ...}`` with HTTP status = code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """JSON body Telegram would send for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class Notifier:
    """Wakes waiters when something changed (an Event swapped on each notify).

    A change may name what it touched (a chat id, a callback query id): waiters that named the same
    key, and those that named none, wake; the others sleep on. Without keys, fifty residents
    long-polling their own chats would all wake, and re-check, on every message of every chat.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()  # waiters that named no key: any change
        self._keyed: dict[Any, asyncio.Event] = {}
        self.closed = False

    def notify(self, key: Any = None) -> None:
        """Wake the waiters on ``key`` and those on any change (everyone when ``key`` is None)."""
        event, self._event = self._event, asyncio.Event()
        event.set()
        if key is None:
            keyed, self._keyed = self._keyed, {}
            for waiting in keyed.values():
                waiting.set()
        elif (waiting := self._keyed.pop(key, None)) is not None:
            waiting.set()

    def close(self) -> None:
        """Wake everyone for good (server shutting down)."""
        self.closed = True
        self._event.set()
        for waiting in self._keyed.values():
            waiting.set()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float, key: Any = None) -> Any:
        """Wait until ``predicate()`` is truthy or ``timeout`` elapses; return its last value.

        With ``key``, only changes notified with that key (or with none) re-check the predicate."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            value = predicate()
            if value or self.closed:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                return value
            if key is None:
                event = self._event
            elif (event := self._keyed.get(key)) is None:
                event = self._keyed[key] = asyncio.Event()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except asyncio.TimeoutError:
                return predicate()


class TokenBucket:
    """Classic token bucket: ``capacity`` burst, refilled at ``rate`` tokens per second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self.stamp is None:
            self.stamp = now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate

    def take(self) -> None:
        """Consume one token (call after ``wait_time`` returned 0)."""
        self.tokens -= 1


class RateLimiter:
    """Telegram-like flood limits: global 30/s, 1/s per private chat (burst 3), 20/min per group."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # replaceable (e.g. frozen) for deterministic tests
        self.global_bucket = TokenBucket(30, 30)
        self.chats: dict[int, TokenBucket] = {}

    def _bucket(self, chat_id: int) -> TokenBucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            bucket = TokenBucket(20, 20 / 60) if chat_id < 0 else TokenBucket(3, 1)
            self.chats[chat_id] = bucket
        return bucket

    def check(self, chat_id: int) -> int | None:
        """Consume a slot for ``chat_id`` or return the retry_after (int seconds >= 1)."""
        now = self.clock()
        chat_bucket = self._bucket(chat_id)
        wait = max(self.global_bucket.wait_time(now), chat_bucket.wait_time(now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self.global_bucket.take()
        chat_bucket.take()
        return None


@dataclass
class Fault:
    """An injected failure for the next ``count`` calls of ``method`` (``*`` = any but getUpdates)."""

    method: str
    error_code: int = 429
    retry_after: int | None = 1
    count: int = 1
    description: str | None = None
    chat_id: int | None = None

    def matches(self, method: str, chat_id: Any) -> bool:
        """Whether this fault applies to a call."""
        if self.count <= 0:
            return False
        if self.method == "*":
            if method == "getupdates":
                return False
        elif self.method != method:
            return False
        if self.chat_id is not None and str(self.chat_id) != str(chat_id):
            return False
        return True

    def error(self) -> ApiError:
        """The error to answer with."""
        if self.error_code == 429:
            retry = max(1, int(self.retry_after or 1))
            return ApiError(429, self.description or f"Too Many Requests: retry after {retry}", retry)
        default = {
            400: "Bad Request: injected fault",
            401: "Unauthorized",
            403: "Forbidden: injected fault",
            404: "Not Found",
            409: "Conflict: injected fault",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        return ApiError(self.error_code, self.description or default.get(self.error_code, "Error"))


@dataclass
class UserRecord:
    """A Telegram user as the sandbox knows them."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone: str | None = None
    started: bool = False
    blocked: bool = False

    def tg(self) -> dict[str, Any]:
        """Telegram ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def view(self) -> dict[str, Any]:
        """Control API representation."""
        return {**self.tg(), "phone": self.phone, "started": self.started, "blocked": self.blocked}


@dataclass
class StoredMessage:
    """One message in a chat, with sandbox bookkeeping around the Telegram fields."""

    message_id: int
    chat_id: int
    date: int
    from_bot: bool
    sender: dict[str, Any]
    kind: str
    content: dict[str, Any]  # Telegram fields specific to the kind (text/entities, photo, ...)
    html: str | None = None
    caption_html: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: int | None = None
    edit_count: int = 0
    edit_date: int | None = None
    deleted: bool = False
    seq: int = 0

    @property
    def text(self) -> str | None:
        return self.content.get("text")

    @property
    def caption(self) -> str | None:
        return self.content.get("caption")

    def inline_buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons (flattened)."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]


@dataclass
class ChatRecord:
    """A chat (private with a user, or a group) and its message history."""

    id: int
    type: str
    title: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None

    def new_message_id(self) -> int:
        """Allocate the next message id of this chat."""
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


@dataclass
class FileRecord:
    """A stored file: uploaded by the bot or generated for a user's media."""

    file_id: str
    file_unique_id: str
    kind: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def tg(self) -> dict[str, Any]:
        """Telegram ``File`` object (getFile result)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class CallbackRecord:
    """A callback query sent to the bot and how it was answered."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None

    def view(self) -> dict[str, Any]:
        """Control API representation."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "answered": self.answered,
            "text": self.text,
            "show_alert": self.show_alert,
            "url": self.url,
        }


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=64)
def make_png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    """A valid solid-colour PNG (used as the bytes of photos users 'send')."""
    row = b"\x00" + bytes(color) * width
    raw = row * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


PALETTE = [(200, 60, 60), (60, 160, 80), (60, 90, 200), (220, 180, 40), (150, 70, 180), (40, 170, 170)]


class World:
    """All sandbox state; reset() empties it for test isolation."""

    def __init__(self) -> None:
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.faults: list[Fault] = []
        self.held_chats: set[str] = set()  # calls to these chats wait (a network that stalls)
        self.held_calls = 0  # how many calls are waiting on a held chat now
        self.active_poll: Callable[[], bool] | None = None  # "has the running getUpdates' client gone?"
        self.webhook = None  # sandbox.webhook.Webhook once setWebhook was called
        self.webhook_deliveries: list[int] = []  # update ids the webhook acknowledged, in order (repeats show)
        self.webhook_log: list[dict[str, Any]] = []  # the acknowledged updates themselves (for redelivery)
        self.calls: list[dict[str, Any]] = []
        self.call_counts: dict[str, int] = {}
        self.error_counts: dict[str, int] = {}
        self.retry_after_count = 0
        self.messages_sent = 0
        self.updates_enqueued = 0
        self.updates_delivered = 0  # updates handed out by getUpdates, repeats included
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.menu_buttons: dict[str, dict[str, Any]] = {}
        self.limiter = RateLimiter()
        self._seq = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)

    # -- ids ---------------------------------------------------------------
    def next_seq(self) -> int:
        """Global ordering counter for messages."""
        return next(self._seq)

    def new_callback_id(self) -> str:
        """Telegram-like (numeric string) callback query id."""
        return str(4_000_000_000_000_000 + next(self._callback_seq))

    # -- files -------------------------------------------------------------
    def add_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        ext: str = "bin",
    ) -> FileRecord:
        """Store bytes and give them Telegram-looking ids and a file_path."""
        n = next(self._file_seq)
        digest = hashlib.sha1(f"{kind}:{n}".encode() + data[:64]).hexdigest()
        prefix = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}.get(kind, "BAAC")
        file_id = f"{prefix}AgIsandbox{n:06d}{digest[:24]}"
        unique = f"AQAD{n:06d}{digest[24:32]}"
        folder = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}.get(
            kind, "files"
        )
        record = FileRecord(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            file_path=f"{folder}/file_{n}.{ext}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    def make_photo_sizes(self, data: bytes | None = None) -> list[dict[str, Any]]:
        """Three PhotoSize dicts; generated PNGs unless ``data`` (an upload) is given."""
        color = PALETTE[next(self._file_seq) % len(PALETTE)]
        sizes = []
        for width, height in ((90, 67), (320, 240), (800, 600)):
            blob = data if data is not None else make_png(width, height, color)
            rec = self.add_file("photo", blob, mime_type="image/png", ext="png" if data is None else "jpg")
            sizes.append(
                {
                    "file_id": rec.file_id,
                    "file_unique_id": rec.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(blob),
                }
            )
        return sizes

    # -- updates -----------------------------------------------------------
    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Append an update for getUpdates; return its update_id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        self.updates_enqueued += 1
        return update_id

    # -- users & chats -----------------------------------------------------
    def upsert_user(self, data: dict[str, Any]) -> UserRecord:
        """Create or update a user from a control API ``user`` object."""
        try:
            uid = int(data["id"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("user.id (int) is required") from None
        user = self.users.get(uid)
        if user is None:
            user = UserRecord(id=uid, first_name=str(data.get("first_name") or f"User{uid}"))
            self.users[uid] = user
        for key in ("first_name", "last_name", "username", "language_code", "phone"):
            if data.get(key) is not None:
                setattr(user, key, str(data[key]))
        return user

    def private_chat(self, user: UserRecord) -> ChatRecord:
        """The private chat with ``user`` (created on demand)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = ChatRecord(id=user.id, type="private")
            self.chats[user.id] = chat
        return chat

    def group_chat(self, chat_id: int, title: str | None = None) -> ChatRecord:
        """A group chat (created on demand); ids <= -1000000000000 are supergroups."""
        chat = self.chats.get(chat_id)
        if chat is None:
            kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
            chat = ChatRecord(id=chat_id, type=kind, title=title or f"Group {chat_id}")
            self.chats[chat_id] = chat
        elif title:
            chat.title = title
        return chat

    def chat_tg(self, chat: ChatRecord) -> dict[str, Any]:
        """Telegram ``Chat`` object."""
        if chat.type == "private":
            user = self.users.get(chat.id)
            data: dict[str, Any] = {"id": chat.id, "type": "private"}
            if user:
                data["first_name"] = user.first_name
                if user.last_name:
                    data["last_name"] = user.last_name
                if user.username:
                    data["username"] = user.username
            else:
                data["first_name"] = f"User{chat.id}"
            return data
        return {"id": chat.id, "type": chat.type, "title": chat.title}

    def message_tg(self, msg: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """Telegram ``Message`` object for a stored message (current state)."""
        chat = self.chats[msg.chat_id]
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": msg.sender,
            "chat": self.chat_tg(chat),
            "date": msg.date,
        }
        if msg.edit_date:
            data["edit_date"] = msg.edit_date
        if with_reply and msg.reply_to is not None:
            replied = chat.messages.get(msg.reply_to)
            if replied is not None and not replied.deleted:
                data["reply_to_message"] = self.message_tg(replied, with_reply=False)
        data.update(msg.content)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        return data

    def message_view(self, msg: StoredMessage) -> dict[str, Any]:
        """Control API representation of a message."""
        view: dict[str, Any] = {
            "message_id": msg.message_id,
            "chat_id": msg.chat_id,
            "seq": msg.seq,
            "date": msg.date,
            "from_bot": msg.from_bot,
            "from_id": msg.sender.get("id"),
            "kind": msg.kind,
            "text": msg.text,
            "html": msg.html,
            "entities": msg.content.get("entities", []),
            "caption": msg.caption,
            "caption_html": msg.caption_html,
            "reply_markup": msg.reply_markup,
            "reply_to_message_id": msg.reply_to,
            "edited": msg.edit_count > 0,
            "edit_count": msg.edit_count,
            "deleted": msg.deleted,
        }
        for key in ("photo", "document", "contact", "sticker", "voice", "location"):
            if key in msg.content:
                view[key] = msg.content[key]
        return view
