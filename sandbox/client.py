"""Python client for the sandbox control API: play Telegram users, read what the bot sent.

Example::

    async with SandboxClient(server.base_url) as sb:
        alice = sb.user(1001, "Alice")
        await alice.send("/start")
        msg = await alice.expect("欢迎")
        await alice.press("投诉")
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp


class SandboxError(RuntimeError):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox control API error {status}: {message}")
        self.status = status
        self.message = message


class SandboxTimeout(AssertionError, TimeoutError):
    """Nothing (suitable) arrived in time; both an AssertionError and a TimeoutError."""


@dataclass
class CallbackAnswer:
    """How the bot answered a callback query."""

    id: str
    answered: bool
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class SandboxMessage:
    """A message as the sandbox sees it now (after any edits)."""

    message_id: int
    chat_id: int
    from_bot: bool
    kind: str
    text: str | None
    html: str | None
    caption: str | None
    buttons: list[list[tuple[str, str | None]]]
    reply_keyboard: list[list[str]] | None
    edited: bool
    edit_count: int
    deleted: bool
    date: int
    reply_markup: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> "SandboxMessage":
        """Build from a control API message view."""
        markup = view.get("reply_markup") or None
        buttons: list[list[tuple[str, str | None]]] = []
        reply_keyboard = None
        if markup and "inline_keyboard" in markup:
            buttons = [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in markup["inline_keyboard"]]
        if markup and "keyboard" in markup:
            reply_keyboard = [
                [b.get("text", "") if isinstance(b, dict) else str(b) for b in row] for row in markup["keyboard"]
            ]
        return cls(
            message_id=view["message_id"],
            chat_id=view["chat_id"],
            from_bot=view["from_bot"],
            kind=view["kind"],
            text=view.get("text") if view.get("text") is not None else view.get("caption"),
            html=view.get("html") if view.get("html") is not None else view.get("caption_html"),
            caption=view.get("caption"),
            buttons=buttons,
            reply_keyboard=reply_keyboard,
            edited=bool(view.get("edited")),
            edit_count=int(view.get("edit_count", 0)),
            deleted=bool(view.get("deleted")),
            date=int(view.get("date", 0)),
            reply_markup=markup,
            raw=view,
        )

    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [text for row in self.buttons for text, _ in row]

    def button_data(self) -> list[str | None]:
        """callback_data of all inline buttons, row by row."""
        return [data for row in self.buttons for _, data in row]

    def find_button(self, substring: str) -> tuple[str, str | None] | None:
        """The inline button whose text equals, else contains, ``substring``."""
        flat = [b for row in self.buttons for b in row]
        for button in flat:
            if button[0] == substring:
                return button
        for button in flat:
            if substring in button[0]:
                return button
        return None

    def has_button(self, substring: str) -> bool:
        """Whether an inline button text contains ``substring``."""
        return self.find_button(substring) is not None

    def callback_data(self, substring: str) -> str | None:
        """callback_data of the button whose text contains ``substring``."""
        button = self.find_button(substring)
        if button is None:
            raise AssertionError(f"no button {substring!r}; buttons: {self.button_texts()}")
        return button[1]

    @property
    def removes_keyboard(self) -> bool:
        """Whether this message removed the reply keyboard."""
        return bool(self.reply_markup and self.reply_markup.get("remove_keyboard"))

    def render(self, who: str | None = None) -> str:
        """One transcript entry: ``[bot] text`` plus buttons."""
        label = who or ("bot" if self.from_bot else "user")
        if self.kind == "text":
            body = self.text or ""
        elif self.kind == "contact":
            body = f"<contact {self.raw.get('contact', {}).get('phone_number')}>"
        elif self.kind == "location":
            loc = self.raw.get("location", {})
            body = f"<location {loc.get('latitude')},{loc.get('longitude')}>"
        else:
            body = f"<{self.kind}>" + (f" {self.caption}" if self.caption else "")
        lines = [f"[{label}] {body}"]
        if self.buttons:
            lines.append("    " + " | ".join(f"[{t}]" for t in self.button_texts()))
        if self.reply_keyboard:
            lines.append("    keyboard: " + " | ".join(f"({t})" for row in self.reply_keyboard for t in row))
        if self.edited:
            lines[0] += f"  (edited x{self.edit_count})"
        if self.deleted:
            lines[0] += "  (deleted)"
        return "\n".join(lines)

    def __contains__(self, substring: str) -> bool:
        return substring in (self.text or "")


def format_transcript(messages: list[SandboxMessage], user_label: str = "user", bot_label: str = "bot") -> str:
    """Render messages (both sides) as a readable transcript."""
    return "\n".join(m.render(bot_label if m.from_bot else user_label) for m in messages)


class SandboxClient:
    """HTTP client for the control API (async context manager)."""

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> "SandboxClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the underlying HTTP session (if we created it)."""
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180))
            self._own_session = True
        return self._session

    async def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Call a control route; raise :class:`SandboxError` on errors."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self._http().request(method, f"{self.base_url}{path}", json=json, params=query) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                message = data.get("error") if isinstance(data, dict) else str(data)
                raise SandboxError(resp.status, str(message))
            return data

    # ---------------------------------------------------------------- users
    def user(
        self,
        user_id: int,
        first_name: str = "测试用户",
        username: str | None = None,
        phone: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> "SandboxUser":
        """A handle for acting as a Telegram user (registered lazily on first action)."""
        return SandboxUser(self, user_id, first_name, username, phone, last_name, language_code)

    # ---------------------------------------------------------------- world
    async def reset(self) -> None:
        """Clear all sandbox state."""
        await self.request("POST", "/control/reset")

    async def register_group(self, chat_id: int, title: str | None = None) -> dict[str, Any]:
        """Make a group chat known so the bot may post there."""
        return (await self.request("POST", "/control/chats", json={"id": chat_id, "title": title}))["chat"]

    async def block(self, user_id: int) -> None:
        """User blocks the bot."""
        await self.request("POST", f"/control/users/{user_id}/block")

    async def unblock(self, user_id: int) -> None:
        """User unblocks the bot."""
        await self.request("POST", f"/control/users/{user_id}/unblock")

    async def redeliver(self, count: int) -> list[int]:
        """Deliver the last ``count`` acknowledged webhook updates again (as Telegram retries)."""
        return (await self.request("POST", "/control/webhook/redeliver", json={"count": count}))["redelivered"]

    async def raw_update(self, update: dict) -> int:
        """Queue an update as given (it may be malformed on purpose); returns its update_id."""
        return (await self.request("POST", "/control/updates/raw", json={"update": update}))["update_id"]

    async def hold_chat(self, chat_id: int, held: bool = True) -> int:
        """Make Bot API calls to a chat wait (``held=False`` lets them through); returns how many wait now."""
        return (await self.request("POST", "/control/hold", json={"chat_id": chat_id, "held": held}))["held_calls"]

    async def inject_fault(
        self,
        method: str = "*",
        *,
        count: int = 1,
        retry_after: int = 1,
        error_code: int = 429,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``*`` = any except getUpdates) fail."""
        body: dict[str, Any] = {"method": method, "count": count, "retry_after": retry_after, "error_code": error_code}
        if description:
            body["description"] = description
        if chat_id is not None:
            body["chat_id"] = chat_id
        await self.request("POST", "/control/faults", json=body)

    async def clear_faults(self) -> None:
        """Remove pending injected faults."""
        await self.request("DELETE", "/control/faults")

    async def set_rate_limits(self, enabled: bool) -> None:
        """Switch Telegram-like flood limits on/off."""
        await self.request("POST", "/control/rate_limits", json={"enabled": enabled})

    async def stats(self) -> dict[str, Any]:
        """Call counters, 429s returned, messages sent."""
        return await self.request("GET", "/control/stats")

    async def calls(self, method: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Logged Bot API calls (optionally of one method)."""
        return (await self.request("GET", "/control/calls", params={"method": method, "limit": limit}))["calls"]

    async def pending_updates(self) -> list[dict[str, Any]]:
        """Updates the bot has not confirmed yet."""
        return (await self.request("GET", "/control/updates"))["updates"]

    async def settled(self, timeout: float = 10) -> None:
        """Wait until the bot has confirmed every update (taken it: Huifang's poller confirms an
        update once it is journaled, or without a journal once it was handled)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.pending_updates():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"updates still unconfirmed after {timeout} s")
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------------- chats
    async def chat_messages(
        self, chat_id: int, *, after: int = 0, who: str = "all", wait: float = 0, min: int = 1
    ) -> list[SandboxMessage]:
        """Messages of a chat (``who``: bot/user/all); ``wait`` long-polls for ``min`` of them."""
        data = await self.request(
            "GET",
            f"/control/chats/{chat_id}/messages",
            params={"after": after, "who": who, "wait": wait or None, "min": min},
        )
        return [SandboxMessage.from_view(v) for v in data["messages"]]

    async def get_message(
        self, chat_id: int, message_id: int, *, min_edits: int | None = None, wait: float = 0
    ) -> SandboxMessage:
        """Current state of a message; with ``min_edits`` waits until edited that often (or deleted)."""
        data = await self.request(
            "GET",
            f"/control/chats/{chat_id}/messages/{message_id}",
            params={"min_edits": min_edits, "wait": wait or None},
        )
        return SandboxMessage.from_view(data["message"])

    async def keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """Reply keyboard currently shown in a chat (raw markup) or None."""
        return (await self.request("GET", f"/control/chats/{chat_id}/keyboard"))["keyboard"]

    async def callback(self, callback_id: str, wait: float = 0) -> CallbackAnswer:
        """State of a callback query (optionally waiting for the answer)."""
        data = await self.request("GET", f"/control/callbacks/{callback_id}", params={"wait": wait or None})
        return CallbackAnswer(
            id=data["id"], answered=data["answered"], text=data.get("text"),
            show_alert=bool(data.get("show_alert")), url=data.get("url"),
        )


class SandboxUser:
    """Acts as one Telegram user in their private chat with the bot."""

    def __init__(
        self,
        client: SandboxClient,
        user_id: int,
        first_name: str,
        username: str | None = None,
        phone: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.client = client
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.phone = phone
        self.language_code = language_code
        self._cursor = 0

    def __repr__(self) -> str:
        return f"SandboxUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        """Private chat id (= user id)."""
        return self.id

    def as_dict(self) -> dict[str, Any]:
        """The ``user`` object for control requests."""
        data: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        for key in ("last_name", "username", "phone", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    # ---------------------------------------------------------------- sending
    async def _post(self, payload: dict[str, Any], chat_id: int | None, reply_to: int | None) -> dict[str, Any]:
        body = {"user": self.as_dict(), **payload}
        if chat_id is not None:
            body["chat_id"] = chat_id
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        return await self.client.request("POST", "/control/messages", json=body)

    async def send(self, text: str, *, chat_id: int | None = None, reply_to: int | None = None) -> dict[str, Any]:
        """Send a text message (``/cmd`` gets a bot_command entity). Returns update_id/message_id/message."""
        return await self._post({"text": text}, chat_id, reply_to)

    async def send_photo(self, caption: str | None = None, *, chat_id: int | None = None) -> dict[str, Any]:
        """Send a (generated) photo, optionally captioned."""
        return await self._post({"photo": {"caption": caption} if caption else {}}, chat_id, None)

    async def send_contact(self, phone: str | None = None, own: bool = True) -> dict[str, Any]:
        """Share a contact: your own (user_id = you) or someone else's (``own=False``)."""
        if own:
            phone = phone or self.phone
            if phone:
                self.phone = phone
            contact: dict[str, Any] = {"first_name": self.first_name, "user_id": self.id}
            if phone:
                contact["phone_number"] = phone
        else:
            other = self.id + 1_000_000
            contact = {"first_name": "联系人", "user_id": other, "phone_number": phone or f"139{other % 10**8:08d}"}
        return await self._post({"contact": contact}, None, None)

    async def send_sticker(self, emoji: str = "🙂") -> dict[str, Any]:
        """Send a sticker."""
        return await self._post({"sticker": {"emoji": emoji}}, None, None)

    async def send_voice(self, duration: int = 3) -> dict[str, Any]:
        """Send a voice note."""
        return await self._post({"voice": {"duration": duration}}, None, None)

    async def send_document(self, file_name: str = "a.pdf", caption: str | None = None) -> dict[str, Any]:
        """Send a document."""
        spec: dict[str, Any] = {"file_name": file_name}
        if caption:
            spec["caption"] = caption
        return await self._post({"document": spec}, None, None)

    async def send_location(self, latitude: float = 31.2304, longitude: float = 121.4737) -> dict[str, Any]:
        """Send a location."""
        return await self._post({"location": {"latitude": latitude, "longitude": longitude}}, None, None)

    async def tap(self, button_text: str) -> dict[str, Any]:
        """Tap a button of the current reply keyboard (request_contact shares your phone)."""
        body: dict[str, Any] = {"user": self.as_dict(), "text": button_text}
        if self.phone:
            body["phone"] = self.phone
        try:
            return await self.client.request("POST", f"/control/chats/{self.chat_id}/keyboard/tap", json=body)
        except SandboxError as exc:
            raise AssertionError(f"cannot tap {button_text!r}: {exc.message}") from None

    async def keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard currently shown to this user (None if none)."""
        markup = await self.client.keyboard(self.chat_id)
        if not markup:
            return None
        return [[b.get("text", "") if isinstance(b, dict) else str(b) for b in row] for row in markup["keyboard"]]

    async def block(self) -> None:
        """Block the bot."""
        await self.client.block(self.id)

    async def unblock(self) -> None:
        """Unblock the bot."""
        await self.client.unblock(self.id)

    # ---------------------------------------------------------------- buttons
    async def press(self, button_text_substring: str, message: SandboxMessage | int | None = None) -> str:
        """Press an inline button (text contains substring) on ``message`` or the latest bot message having one."""
        if message is not None:
            mid = message if isinstance(message, int) else message.message_id
            candidates = [await self.client.get_message(self.chat_id, mid)]
        else:
            candidates = list(reversed(await self.messages()))
        seen: list[str] = []
        for msg in candidates:
            if msg.deleted:
                continue
            button = msg.find_button(button_text_substring)
            if button is not None:
                if button[1] is None:
                    raise AssertionError(f"button {button[0]!r} has no callback_data (url button?)")
                return await self.press_data(msg.message_id, button[1], check=True)
            seen.extend(msg.button_texts())
        raise AssertionError(f"no inline button containing {button_text_substring!r}; available: {seen}")

    async def press_data(self, message_id: int, data: str, check: bool = False) -> str:
        """Send a callback query with raw ``data`` (forged unless ``check``); returns its id."""
        body = {"user": self.as_dict(), "chat_id": self.chat_id, "message_id": message_id, "data": data,
                "check": check}
        return (await self.client.request("POST", "/control/callbacks", json=body))["callback_query_id"]

    async def callback_answer(self, callback_id: str, timeout: float = 5) -> CallbackAnswer:
        """Wait until the bot answered the callback query; return the answer."""
        answer = await self.client.callback(callback_id, wait=timeout)
        if not answer.answered:
            raise SandboxTimeout(f"callback query {callback_id} not answered within {timeout}s")
        return answer

    # ---------------------------------------------------------------- reading
    async def messages(self) -> list[SandboxMessage]:
        """All bot messages in this private chat (current state, chronological)."""
        return await self.client.chat_messages(self.chat_id, who="bot")

    async def transcript(self) -> list[SandboxMessage]:
        """Both sides of the conversation, chronological (``from_bot`` tells who)."""
        return await self.client.chat_messages(self.chat_id, who="all")

    async def transcript_text(self, user_label: str | None = None, bot_label: str = "bot") -> str:
        """The transcript rendered as text."""
        return format_transcript(await self.transcript(), user_label or self.first_name, bot_label)

    async def message(self, message_id: int) -> SandboxMessage:
        """Current state of a message in this chat (e.g. after edits)."""
        return await self.client.get_message(self.chat_id, message_id)

    async def wait_edit(self, message: SandboxMessage | int, timeout: float = 10) -> SandboxMessage:
        """Wait until ``message`` is edited (again) or deleted; return its new state."""
        if isinstance(message, int):
            message = await self.message(message)
        state = await self.client.get_message(
            self.chat_id, message.message_id, min_edits=message.edit_count + 1, wait=timeout
        )
        if state.edit_count <= message.edit_count and not state.deleted:
            raise SandboxTimeout(f"message {message.message_id} not edited within {timeout}s: {state.text!r}")
        return state

    async def last_message(self) -> SandboxMessage | None:
        """Most recent bot message (or None)."""
        msgs = await self.messages()
        return msgs[-1] if msgs else None

    async def next_message(self, timeout: float = 10) -> SandboxMessage:
        """The next bot message after the cursor (waits up to ``timeout`` seconds)."""
        msgs = await self.client.chat_messages(self.chat_id, after=self._cursor, who="bot", wait=timeout)
        if not msgs:
            recent = await self.transcript()
            tail = format_transcript(recent[-5:]) or "(empty chat)"
            raise SandboxTimeout(f"no new bot message for user {self.id} within {timeout}s; chat tail:\n{tail}")
        self._cursor = msgs[0].message_id
        return msgs[0]

    async def expect(self, substring: str, timeout: float = 10) -> SandboxMessage:
        """Wait for a new bot message whose text/caption contains ``substring`` (skips others)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[str] = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                msg = await self.next_message(remaining)
            except SandboxTimeout:
                break
            if substring in (msg.text or ""):
                return msg
            seen.append(msg.text or f"<{msg.kind}>")
        raise SandboxTimeout(f"no bot message containing {substring!r} within {timeout}s; seen: {seen}")

    async def drain(self) -> list[SandboxMessage]:
        """Move the cursor past all current bot messages; return the skipped ones."""
        msgs = await self.client.chat_messages(self.chat_id, after=self._cursor, who="bot")
        if msgs:
            self._cursor = msgs[-1].message_id
        return msgs
