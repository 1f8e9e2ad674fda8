"""Control API of the sandbox (``/control/...``): act as Telegram users, inspect what the bot did.

JSON in, JSON out. Errors are ``{"ok": false, "error": "..."}`` with status 400/404.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .htmlparse import command_entities
from .state import CallbackRecord, Fault, RateLimiter, StoredMessage, UserRecord

if TYPE_CHECKING:  # pragma: no cover
    from .server import SandboxServer

MAX_WAIT = 120.0
USER_KINDS = ("text", "photo", "contact", "sticker", "voice", "document", "location")


class ControlError(Exception):
    """A control API request error (status 400 unless told otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def default_phone(user_id: int) -> str:
    """A plausible mainland China mobile number derived from a user id."""
    return f"138{user_id % 10**8:08d}"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _wait_arg(request: web.Request) -> float:
    try:
        return min(MAX_WAIT, max(0.0, float(request.query.get("wait", "0"))))
    except ValueError:
        raise ControlError("wait must be a number") from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be an integer") from None


class ControlApi:
    """Route handlers; all state lives in the owning :class:`SandboxServer`."""

    def __init__(self, server: "SandboxServer") -> None:
        self.server = server

    @property
    def world(self):  # noqa: ANN201 - World
        return self.server.world

    def routes(self) -> list[web.RouteDef]:
        """aiohttp route table."""
        return [
            web.post("/control/reset", self.reset),
            web.post("/control/users", self.upsert_user),
            web.get("/control/users/{user_id}", self.get_user),
            web.post("/control/users/{user_id}/block", self.block),
            web.post("/control/users/{user_id}/unblock", self.unblock),
            web.post("/control/chats", self.register_chat),
            web.post("/control/messages", self.post_message),
            web.get("/control/chats/{chat_id}/messages", self.list_messages),
            web.get("/control/chats/{chat_id}/messages/{message_id}", self.get_message),
            web.get("/control/chats/{chat_id}/keyboard", self.get_keyboard),
            web.post("/control/chats/{chat_id}/keyboard/tap", self.tap_keyboard),
            web.post("/control/callbacks", self.post_callback),
            web.get("/control/callbacks/{callback_id}", self.get_callback),
            web.post("/control/faults", self.add_fault),
            web.get("/control/faults", self.list_faults),
            web.delete("/control/faults", self.clear_faults),
            web.post("/control/rate_limits", self.set_rate_limits),
            web.post("/control/hold", self.hold),
            web.get("/control/stats", self.stats),
            web.get("/control/calls", self.calls),
            web.get("/control/updates", self.pending_updates),
            web.post("/control/updates/raw", self.raw_update),
            web.post("/control/webhook/redeliver", self.redeliver),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Turn ControlError / bad JSON into JSON error responses."""
        try:
            return await handler(request)
        except ControlError as exc:
            return _json({"ok": False, "error": str(exc)}, exc.status)
        except ValueError as exc:
            if request.path.startswith("/control/"):
                return _json({"ok": False, "error": str(exc)}, 400)
            raise

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise ControlError("body must be JSON") from None
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
        return body

    def _changed(self, key: Any = None) -> None:
        """Wake the long-polls waiting on ``key`` (a chat id, ("callback", id)), or all of them."""
        self.server.changes.notify(key)

    # ---------------------------------------------------------------- general
    async def reset(self, request: web.Request) -> web.Response:
        """Forget everything (users, chats, updates, faults, logs)."""
        self.server.reset()
        return _json({"ok": True})

    async def stats(self, request: web.Request) -> web.Response:
        """Counters: calls per method, errors per code, 429s, messages sent."""
        w = self.world
        return _json(
            {
                "calls": dict(w.call_counts),
                "total_calls": sum(w.call_counts.values()),
                "errors": dict(w.error_counts),
                "retry_after_returned": w.retry_after_count,
                "messages_sent": w.messages_sent,
                "updates_enqueued": w.updates_enqueued,
                "updates_delivered": w.updates_delivered,
                "pending_updates": len(w.updates),
                "rate_limits": self.server.api.rate_limits,
                "held_calls": w.held_calls,
                "webhook": ({"url": w.webhook.url, "delivered": w.webhook.delivered, "attempts": w.webhook.attempts}
                            if w.webhook else None),
                "webhook_deliveries": list(w.webhook_deliveries),
            }
        )

    async def calls(self, request: web.Request) -> web.Response:
        """Logged Bot API calls, optionally filtered by ``method`` (case-insensitive)."""
        method = request.query.get("method")
        items = self.world.calls
        if method:
            items = [c for c in items if c["method"].lower() == method.lower()]
        if "limit" in request.query:
            items = items[-_int(request.query["limit"], "limit"):]
        return _json({"calls": items})

    async def redeliver(self, request: web.Request) -> web.Response:
        """``{"count": n}``: deliver the last n acknowledged updates again, same ids (a webhook retry)."""
        body = await self._body(request)
        count = _int(body.get("count", 1), "count")
        again = self.world.webhook_log[-count:] if count > 0 else []
        self.world.updates.extend(dict(u) for u in again)
        self.server.updates.notify()
        return _json({"ok": True, "redelivered": [u["update_id"] for u in again]})

    async def raw_update(self, request: web.Request) -> web.Response:
        """Queue an update exactly as given (e.g. one the bot's library cannot parse); returns its id."""
        body = await self._body(request)
        payload = body.get("update")
        if not isinstance(payload, dict):
            raise ControlError("give {\"update\": {...}}")
        update_id = self.world.next_update_id
        self.world.next_update_id += 1
        self.world.updates.append({**payload, "update_id": update_id})
        self.world.updates_enqueued += 1
        self.server.updates.notify()
        return _json({"ok": True, "update_id": update_id})

    async def pending_updates(self, request: web.Request) -> web.Response:
        """Updates not yet confirmed by the bot."""
        return _json({"updates": self.world.updates})

    # ---------------------------------------------------------------- users & chats
    async def upsert_user(self, request: web.Request) -> web.Response:
        """Register/update a user without starting the bot."""
        body = await self._body(request)
        user = self.world.upsert_user(body)
        return _json({"user": user.view()})

    def _user(self, request: web.Request) -> UserRecord:
        uid = _int(request.match_info["user_id"], "user_id")
        user = self.world.users.get(uid)
        if user is None:
            raise ControlError(f"unknown user {uid}", 404)
        return user

    async def get_user(self, request: web.Request) -> web.Response:
        return _json({"user": self._user(request).view()})

    async def block(self, request: web.Request) -> web.Response:
        """The user blocks the bot (sends then fail with 403)."""
        uid = _int(request.match_info["user_id"], "user_id")
        user = self.world.users.get(uid) or self.world.upsert_user({"id": uid})
        user.blocked = True
        return _json({"user": user.view()})

    async def unblock(self, request: web.Request) -> web.Response:
        """The user unblocks the bot."""
        user = self._user(request)
        user.blocked = False
        return _json({"user": user.view()})

    async def register_chat(self, request: web.Request) -> web.Response:
        """Make a group known (as if the bot had been added): ``{"id": -100..., "title"}``."""
        body = await self._body(request)
        chat_id = _int(body.get("id"), "id")
        if chat_id >= 0:
            raise ControlError("group chat ids must be negative")
        chat = self.world.group_chat(chat_id, body.get("title"))
        return _json({"chat": self.world.chat_tg(chat)})

    # ---------------------------------------------------------------- user messages
    def _chat_for(self, user: UserRecord, body: dict[str, Any]):  # noqa: ANN202
        chat_id = body.get("chat_id")
        if chat_id is None or _int(chat_id, "chat_id") == user.id:
            return self.world.private_chat(user)
        chat_id = _int(chat_id, "chat_id")
        if chat_id > 0:
            raise ControlError("a private chat id must equal the user id")
        return self.world.group_chat(chat_id, body.get("chat_title"))

    def create_user_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store a message from a user and enqueue the ``message`` update."""
        world = self.world
        if not isinstance(body.get("user"), dict):
            raise ControlError("user object is required")
        kinds = [k for k in USER_KINDS if body.get(k) is not None]
        if len(kinds) != 1:
            raise ControlError(f"exactly one of {', '.join(USER_KINDS)} is required")
        kind = kinds[0]
        user = world.upsert_user(body["user"])
        chat = self._chat_for(user, body)
        reply_to = body.get("reply_to_message_id")
        if reply_to is not None:
            reply_to = _int(reply_to, "reply_to_message_id")
            if reply_to not in chat.messages:
                raise ControlError(f"message {reply_to} not found in chat {chat.id}")
        content = self._content(kind, body[kind], user)
        user.started = True
        user.blocked = False
        msg = StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            date=int(time.time()),
            from_bot=False,
            sender=user.tg(),
            kind=kind,
            content=content,
            reply_to=reply_to,
            seq=world.next_seq(),
        )
        chat.messages[msg.message_id] = msg
        tg = world.message_tg(msg)
        update_id = world.enqueue_update("message", tg)
        self.server.updates.notify()
        self._changed(chat.id)
        return {"update_id": update_id, "message_id": msg.message_id, "message": tg}

    def _content(self, kind: str, value: Any, user: UserRecord) -> dict[str, Any]:
        world = self.world
        spec = value if isinstance(value, dict) else {}
        if kind == "text":
            text = str(value)
            if not text.strip():
                raise ControlError("text is empty")
            content: dict[str, Any] = {"text": text}
            entities = command_entities(text)
            if entities:
                content["entities"] = entities
            return content
        if kind == "photo":
            content = {"photo": world.make_photo_sizes()}
            if spec.get("caption"):
                content["caption"] = str(spec["caption"])
                entities = command_entities(content["caption"])
                if entities:
                    content["caption_entities"] = entities
            return content
        if kind == "contact":
            contact = {
                "phone_number": str(spec.get("phone_number") or user.phone or default_phone(user.id)),
                "first_name": str(spec.get("first_name") or user.first_name),
            }
            if spec.get("last_name"):
                contact["last_name"] = str(spec["last_name"])
            if spec.get("user_id") is not None:
                contact["user_id"] = _int(spec["user_id"], "contact.user_id")
            return {"contact": contact}
        if kind == "sticker":
            rec = world.add_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 sandbox", mime_type="image/webp",
                                 ext="webp")
            return {
                "sticker": {
                    "file_id": rec.file_id,
                    "file_unique_id": rec.file_unique_id,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": str(spec.get("emoji", "🙂")),
                    "file_size": len(rec.data),
                }
            }
        if kind == "voice":
            duration = _int(spec.get("duration", 3), "voice.duration")
            rec = world.add_file("voice", b"OggS\x00sandbox-voice" * 8, mime_type="audio/ogg", ext="oga")
            return {
                "voice": {
                    "file_id": rec.file_id,
                    "file_unique_id": rec.file_unique_id,
                    "duration": duration,
                    "mime_type": "audio/ogg",
                    "file_size": len(rec.data),
                }
            }
        if kind == "document":
            name = str(spec.get("file_name") or "file.pdf")
            mime = str(spec.get("mime_type") or mimetypes.guess_type(name)[0] or "application/octet-stream")
            data = str(spec.get("content", f"sandbox document {name}")).encode()
            ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
            rec = world.add_file("document", data, file_name=name, mime_type=mime, ext=ext)
            content = {
                "document": {
                    "file_id": rec.file_id,
                    "file_unique_id": rec.file_unique_id,
                    "file_name": name,
                    "mime_type": mime,
                    "file_size": len(data),
                }
            }
            if spec.get("caption"):
                content["caption"] = str(spec["caption"])
            return content
        # location
        try:
            lat, lon = float(spec["latitude"]), float(spec["longitude"])
        except (KeyError, TypeError, ValueError):
            raise ControlError("location needs latitude and longitude") from None
        return {"location": {"latitude": lat, "longitude": lon}}

    async def post_message(self, request: web.Request) -> web.Response:
        """A user sends a message (text/photo/contact/sticker/voice/document/location)."""
        body = await self._body(request)
        return _json(self.create_user_message(body))

    # ---------------------------------------------------------------- reading chats
    def _chat_id(self, request: web.Request) -> int:
        return _int(request.match_info["chat_id"], "chat_id")

    async def list_messages(self, request: web.Request) -> web.Response:
        """Messages of a chat; ``after``, ``who`` (bot|user|all), ``wait`` + ``min`` long-poll."""
        chat_id = self._chat_id(request)
        after = _int(request.query.get("after", "0"), "after")
        who = request.query.get("who", "all")
        if who not in ("bot", "user", "all"):
            raise ControlError("who must be bot, user or all")
        minimum = max(1, _int(request.query.get("min", "1"), "min"))
        wait = _wait_arg(request)

        def select() -> list[StoredMessage]:
            chat = self.world.chats.get(chat_id)
            if chat is None:
                return []
            return [
                m
                for mid, m in sorted(chat.messages.items())
                if mid > after and (who == "all" or m.from_bot == (who == "bot"))
            ]

        if wait > 0:
            await self.server.changes.wait_until(lambda: len(select()) >= minimum, wait, key=chat_id)
        items = select()
        return _json({"chat_id": chat_id, "messages": [self.world.message_view(m) for m in items]})

    async def get_message(self, request: web.Request) -> web.Response:
        """Current state of one message; ``min_edits`` + ``wait`` long-poll for edits/deletion."""
        chat_id = self._chat_id(request)
        mid = _int(request.match_info["message_id"], "message_id")

        def find() -> StoredMessage | None:
            chat = self.world.chats.get(chat_id)
            return chat.messages.get(mid) if chat else None

        msg = find()
        if msg is None:
            raise ControlError(f"message {mid} not found", 404)
        wait = _wait_arg(request)
        if wait > 0 and "min_edits" in request.query:
            minimum = _int(request.query["min_edits"], "min_edits")
            await self.server.changes.wait_until(
                lambda: (m := find()) is None or m.deleted or m.edit_count >= minimum, wait, key=chat_id
            )
            msg = find()
            if msg is None:
                raise ControlError(f"message {mid} not found", 404)
        return _json({"message": self.world.message_view(msg)})

    async def get_keyboard(self, request: web.Request) -> web.Response:
        """The reply keyboard currently shown in a chat (or null)."""
        chat = self.world.chats.get(self._chat_id(request))
        return _json({"keyboard": chat.reply_keyboard if chat else None})

    async def tap_keyboard(self, request: web.Request) -> web.Response:
        """Tap a reply keyboard button: ``{"user", "text", "phone"?}``."""
        chat_id = self._chat_id(request)
        body = await self._body(request)
        chat = self.world.chats.get(chat_id)
        keyboard = chat.reply_keyboard if chat else None
        if not keyboard:
            raise ControlError(f"no reply keyboard is shown in chat {chat_id}")
        wanted = str(body.get("text", ""))
        buttons = [
            b if isinstance(b, dict) else {"text": b} for row in keyboard.get("keyboard", []) for b in row
        ]
        button = next((b for b in buttons if b.get("text") == wanted), None)
        if button is None:
            raise ControlError(
                f"no reply button {wanted!r}; available: {[b.get('text') for b in buttons]}"
            )
        if not isinstance(body.get("user"), dict):
            raise ControlError("user object is required")
        message: dict[str, Any] = {"user": body["user"], "chat_id": chat_id}
        if button.get("request_contact"):
            user = self.world.upsert_user(body["user"])
            phone = body.get("phone") or user.phone or default_phone(user.id)
            user.phone = str(phone)
            message["contact"] = {"phone_number": user.phone, "first_name": user.first_name,
                                  "user_id": user.id}
            if user.last_name:
                message["contact"]["last_name"] = user.last_name
        elif button.get("request_location"):
            message["location"] = {"latitude": 31.2304, "longitude": 121.4737}
        else:
            message["text"] = wanted
        result = self.create_user_message(message)
        if keyboard.get("one_time_keyboard") and chat is not None and chat.reply_keyboard is keyboard:
            chat.reply_keyboard = None
            self._changed(chat.id)
        return _json(result)

    # ---------------------------------------------------------------- callbacks
    async def post_callback(self, request: web.Request) -> web.Response:
        """A user presses an inline button: ``{"user", "chat_id"?, "message_id", "data", "check"?}``."""
        body = await self._body(request)
        world = self.world
        if not isinstance(body.get("user"), dict):
            raise ControlError("user object is required")
        user = world.upsert_user(body["user"])
        chat_id = _int(body.get("chat_id", user.id), "chat_id")
        message_id = _int(body.get("message_id"), "message_id")
        data = body.get("data")
        if not isinstance(data, str):
            raise ControlError("data (string) is required")
        chat = world.chats.get(chat_id)
        msg = chat.messages.get(message_id) if chat else None
        if body.get("check", True):
            if msg is None or msg.deleted:
                raise ControlError(f"message {message_id} not found in chat {chat_id}")
            datas = [b.get("callback_data") for b in msg.inline_buttons()]
            if data not in datas:
                raise ControlError(
                    f"message {message_id} has no inline button with callback_data {data!r}; has {datas}"
                )
        if msg is not None and not msg.deleted:
            message_obj = world.message_tg(msg)
        else:
            chat_obj = world.chat_tg(chat) if chat else {"id": chat_id, "type": "private",
                                                          "first_name": user.first_name}
            message_obj = {"chat": chat_obj, "message_id": message_id, "date": 0}
        cq_id = world.new_callback_id()
        instance = str(int(hashlib.sha1(f"{chat_id}".encode()).hexdigest()[:15], 16))
        update_id = world.enqueue_update(
            "callback_query",
            {"id": cq_id, "from": user.tg(), "message": message_obj, "chat_instance": instance,
             "data": data},
        )
        world.callbacks[cq_id] = CallbackRecord(
            id=cq_id, user_id=user.id, chat_id=chat_id, message_id=message_id, data=data
        )
        self.server.updates.notify()
        self._changed(chat_id)
        return _json({"update_id": update_id, "callback_query_id": cq_id})

    async def get_callback(self, request: web.Request) -> web.Response:
        """How the bot answered a callback query; ``?wait=`` waits for the answer."""
        cq_id = request.match_info["callback_id"]
        if cq_id not in self.world.callbacks:
            raise ControlError(f"unknown callback query {cq_id}", 404)
        wait = _wait_arg(request)
        if wait > 0:
            await self.server.changes.wait_until(
                lambda: (r := self.world.callbacks.get(cq_id)) is None or r.answered, wait, key=("callback", cq_id)
            )
        record = self.world.callbacks.get(cq_id)
        if record is None:
            raise ControlError(f"unknown callback query {cq_id}", 404)
        return _json(record.view())

    # ---------------------------------------------------------------- faults & limits
    async def add_fault(self, request: web.Request) -> web.Response:
        """Make the next ``count`` calls of ``method`` (or ``*``) fail."""
        body = await self._body(request)
        method = str(body.get("method", "*"))
        fault = Fault(
            method="*" if method == "*" else method.lower(),
            error_code=_int(body.get("error_code", 429), "error_code"),
            retry_after=_int(body.get("retry_after", 1), "retry_after"),
            count=_int(body.get("count", 1), "count"),
            description=body.get("description"),
            chat_id=_int(body["chat_id"], "chat_id") if body.get("chat_id") is not None else None,
        )
        if fault.error_code == 429 and (fault.retry_after or 0) < 1:
            raise ControlError("retry_after must be an int >= 1")
        self.world.faults.append(fault)
        return _json({"ok": True, "faults": len(self.world.faults)})

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": [f.__dict__ for f in self.world.faults if f.count > 0]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.world.faults.clear()
        return _json({"ok": True})

    async def hold(self, request: web.Request) -> web.Response:
        """``{"chat_id": id, "held": bool}``: calls to that chat wait until released (a stalled network);
        the answer says how many calls are waiting on held chats now."""
        body = await self._body(request)
        chat = str(_int(body.get("chat_id"), "chat_id"))
        if body.get("held", True):
            self.world.held_chats.add(chat)
        else:
            self.world.held_chats.discard(chat)
        self._changed()
        return _json({"ok": True, "held_calls": self.world.held_calls})

    async def set_rate_limits(self, request: web.Request) -> web.Response:
        """``{"enabled": bool}`` switches Telegram-like flood limits."""
        body = await self._body(request)
        self.server.api.rate_limits = bool(body.get("enabled"))
        if self.server.api.rate_limits:
            self.world.limiter = RateLimiter()
        return _json({"ok": True, "enabled": self.server.api.rate_limits})
