"""Bot API method implementations of the sandbox (``/bot<token>/<method>``).

Each method takes :class:`Params` (form/JSON/multipart values, coerced on
access the way Telegram does) and returns a JSON-able result or raises
:class:`~sandbox.state.ApiError`.
"""

from __future__ import annotations

import html as html_lib
import json
import mimetypes
import re
import time
from typing import Any, Awaitable, Callable

from .htmlparse import EntityParseError, parse_html, strip_with_entities, utf16_len
from .state import ApiError, ChatRecord, Notifier, StoredMessage, World

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_LOGGED_CALLS = 20000
COUNTED_METHODS = {"sendmessage", "sendphoto", "senddocument", "editmessagetext"}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def bad(description: str) -> ApiError:
    """400 Bad Request."""
    return ApiError(400, f"Bad Request: {description}")


class Upload:
    """A file part of a multipart request."""

    def __init__(self, filename: str | None, data: bytes, content_type: str | None) -> None:
        self.filename = filename
        self.data = data
        self.content_type = content_type


class Params:
    """Request parameters with Telegram-like coercion (form values are strings)."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)

    def int(self, name: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise bad(f"{name} is empty")
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def float(self, name: str, default: float | None = None) -> float | None:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def json(self, name: str, what: str = "object") -> Any:
        value = self.values.get(name)
        if value in (None, ""):
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad(f"can't parse {what} JSON object") from None
        return value

    def public(self) -> dict[str, Any]:
        """Parameters for the call log (uploads summarised)."""
        data = dict(self.values)
        for key, up in self.uploads.items():
            data[key] = f"<upload {up.filename!r} {len(up.data)} bytes>"
        return data


Handler = Callable[[Params], Awaitable[Any]]


class BotApi:
    """Implements the supported Bot API methods on top of a :class:`World`."""

    def __init__(
        self,
        world_getter: Callable[[], World],
        *,
        bot_id: int,
        bot_username: str,
        bot_first_name: str,
        updates_notifier: Notifier,
        changes_notifier: Notifier,
    ) -> None:
        self._world = world_getter
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.updates_notifier = updates_notifier
        self.changes_notifier = changes_notifier
        self.rate_limits = False
        self.methods: dict[str, Handler] = {}
        for attr in dir(self):
            if attr.startswith("m_"):
                self.methods[attr[2:]] = getattr(self, attr)

    @property
    def world(self) -> World:
        return self._world()

    def bot_user(self) -> dict[str, Any]:
        """The bot as a Telegram ``User``."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ------------------------------------------------------------------ dispatch
    async def call(self, method: str, params: Params, gone: Callable[[], bool] = lambda: False) -> Any:
        """Run one Bot API call with faults, rate limits, logging and stats."""
        world = self.world
        name = method.lower()
        world.call_counts[method] = world.call_counts.get(method, 0) + 1
        entry: dict[str, Any] = {
            "n": sum(world.call_counts.values()),
            "time": time.time(),
            "method": method,
            "params": params.public(),
        }
        world.calls.append(entry)
        if len(world.calls) > MAX_LOGGED_CALLS:
            del world.calls[: len(world.calls) - MAX_LOGGED_CALLS]
        try:
            handler = self.methods.get(name)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            for fault in world.faults:
                if fault.matches(name, params.values.get("chat_id")):
                    fault.count -= 1
                    raise fault.error()
            chat = str(params.values.get("chat_id"))
            if name != "getupdates" and chat in world.held_chats:
                world.held_calls += 1
                self.changes_notifier.notify()
                try:
                    await self.changes_notifier.wait_until(lambda: chat not in world.held_chats, timeout=3600)
                finally:
                    world.held_calls -= 1
                if gone():  # the caller died while waiting (e.g. the bot was killed): nothing happens
                    raise ApiError(499, "Client Closed Request")
            if name == "getupdates":
                result = await self._one_poller(handler, params, gone)
            else:
                result = await handler(params)
        except ApiError as exc:
            entry.update(ok=False, error_code=exc.code, description=exc.description)
            if exc.retry_after is not None:
                entry["retry_after"] = exc.retry_after
            key = str(exc.code)
            world.error_counts[key] = world.error_counts.get(key, 0) + 1
            if exc.code == 429:
                world.retry_after_count += 1
            raise
        entry["ok"] = True
        if name != "getupdates":
            entry["result"] = result
        else:
            entry["result_count"] = len(result)
        return result

    # ------------------------------------------------------------------ helpers
    def _target_chat(self, params: Params) -> ChatRecord:
        """Resolve ``chat_id`` for sending, enforcing the 400/403 rules."""
        raw = params.values.get("chat_id")
        if raw in (None, ""):
            raise bad("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            raise bad("chat not found")
        chat_id = params.int("chat_id")
        assert chat_id is not None
        world = self.world
        if chat_id > 0:
            user = world.users.get(chat_id)
            if user is None:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            return world.private_chat(user)
        chat = world.chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _rate_limit(self, method: str, chat_id: int) -> None:
        if not self.rate_limits or method not in COUNTED_METHODS:
            return
        retry = self.world.limiter.check(chat_id)
        if retry is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)

    def _formatted(
        self, params: Params, field: str, entities_field: str, limit: int, *, caption: bool
    ) -> tuple[str | None, list[dict[str, Any]], str | None]:
        """Parse text/caption with parse_mode; return (plain, entities, html)."""
        raw = params.str(field)
        if raw is None:
            return None, [], None
        mode = (params.str("parse_mode") or "").strip().lower()
        original_html: str | None = None
        if mode == "html":
            try:
                plain, entities = parse_html(raw)
            except EntityParseError as exc:
                raise bad(f"can't parse entities: {exc}") from None
            original_html = raw
        else:
            plain = raw
            entities = params.json(entities_field, "entities") or []
            if not isinstance(entities, list):
                raise bad("can't parse entities JSON object")
        plain, entities = strip_with_entities(plain, entities)
        if original_html is None:
            original_html = html_lib.escape(plain, quote=False)
        if utf16_len(plain) > limit:
            raise bad("message caption is too long" if caption else "message is too long")
        return plain, entities, original_html

    def _markup(self, params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        """Validate ``reply_markup`` the way Telegram does."""
        markup = params.json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad("can't parse inline keyboard button: field \"inline_keyboard\" must be an Array of Arrays")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                            raise bad("BUTTON_DATA_INVALID")
                    elif not any(
                        k in button
                        for k in (
                            "url",
                            "web_app",
                            "login_url",
                            "switch_inline_query",
                            "switch_inline_query_current_chat",
                            "switch_inline_query_chosen_chat",
                            "copy_text",
                            "callback_game",
                            "pay",
                        )
                    ):
                        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            return markup
        if inline_only:
            raise bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad("can't parse reply keyboard markup JSON object")
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise bad("can't parse keyboard button: Field \"text\" must be of type String")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, params: Params, chat: ChatRecord) -> int | None:
        reply_id = params.int("reply_to_message_id")
        allow = params.bool("allow_sending_without_reply")
        rp = params.json("reply_parameters", "reply parameters")
        if isinstance(rp, dict) and rp.get("message_id") is not None:
            reply_id = int(rp["message_id"])
            allow = allow or bool(rp.get("allow_sending_without_reply"))
        if reply_id is None:
            return None
        target = chat.messages.get(reply_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise bad("message to be replied not found")
        return reply_id

    def _apply_keyboard(self, chat: ChatRecord, markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None

    def _store(
        self,
        chat: ChatRecord,
        kind: str,
        content: dict[str, Any],
        *,
        html: str | None = None,
        caption_html: str | None = None,
        markup: dict[str, Any] | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        world = self.world
        msg = StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            date=int(time.time()),
            from_bot=True,
            sender=self.bot_user(),
            kind=kind,
            content=content,
            html=html,
            caption_html=caption_html,
            reply_markup=markup,
            reply_to=reply_to,
            seq=world.next_seq(),
        )
        chat.messages[msg.message_id] = msg
        self._apply_keyboard(chat, markup)
        world.messages_sent += 1
        self.changes_notifier.notify(chat.id)
        return world.message_tg(msg)

    def _editable(self, params: Params) -> StoredMessage:
        if params.has("inline_message_id"):
            raise bad("message to edit not found")
        raw = params.values.get("chat_id")
        if raw in (None, ""):
            raise bad("chat_id is empty")
        chat_id = params.int("chat_id")
        message_id = params.int("message_id", required=True)
        chat = self.world.chats.get(chat_id)  # type: ignore[arg-type]
        if chat is None:
            raise bad("chat not found")
        user = self.world.users.get(chat.id) if chat.type == "private" else None
        if user is not None and user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        msg = chat.messages.get(message_id)  # type: ignore[arg-type]
        if msg is None or msg.deleted:
            raise bad("message to edit not found")
        if not msg.from_bot:
            raise bad("message can't be edited")
        return msg

    def _mark_edited(self, msg: StoredMessage) -> dict[str, Any]:
        msg.edit_count += 1
        msg.edit_date = int(time.time())
        self.changes_notifier.notify(msg.chat_id)
        return self.world.message_tg(msg)

    def _input_file(self, params: Params, field: str, kind: str) -> tuple[dict[str, Any] | None, Any]:
        """Resolve a file parameter: known file_id, attach:// upload or direct upload."""
        world = self.world
        upload = params.uploads.get(field)
        value = params.str(field)
        if upload is None and value and value.startswith("attach://"):
            upload = params.uploads.get(value[len("attach://"):])
            if upload is None:
                raise bad(f"wrong remote file identifier specified: can't find {value}")
        if upload is not None:
            return None, upload
        if not value:
            raise bad(f"there is no {field} in the request")
        record = world.files.get(value)
        if record is None:
            if value.startswith(("http://", "https://")):
                raise bad("wrong file identifier/HTTP URL specified (the sandbox cannot fetch URLs)")
            raise bad("wrong file identifier/HTTP URL specified")
        if kind == "photo" and record.kind != "photo":
            raise bad(f"can't use file of type {record.kind.capitalize()} as Photo")
        return {"record": record}, None

    # ------------------------------------------------------------------ updates & bot
    async def m_getme(self, params: Params) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _one_poller(self, handler, params: Params, gone: Callable[[], bool]) -> Any:
        """Like Telegram: while one getUpdates is running, a second poller gets 409 Conflict
        (a poll whose client went away does not count)."""
        world = self.world
        if world.active_poll is not None and not world.active_poll():
            raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                "make sure that only one bot instance is running")
        world.active_poll = gone
        try:
            return await handler(params)
        finally:
            if world.active_poll is gone:
                world.active_poll = None

    async def m_getupdates(self, params: Params) -> Any:
        if self.world.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = params.int("offset", 0) or 0
        limit = params.int("limit", 100) or 100
        limit = min(max(limit, 1), 100)
        timeout = max(0, params.int("timeout", 0) or 0)
        allowed = params.json("allowed_updates", "allowed updates")
        world = self.world
        if isinstance(allowed, list):
            world.allowed_updates = [str(a) for a in allowed] or None
        if offset > 0:
            world.updates = [u for u in world.updates if u["update_id"] >= offset]
        elif offset < 0:
            world.updates = world.updates[offset:]

        def pending() -> list[dict[str, Any]]:
            w = self.world
            allowed_set = set(w.allowed_updates) if w.allowed_updates else None
            if allowed_set is not None:
                w.updates = [u for u in w.updates if (set(u) - {"update_id"}) & allowed_set]
            return w.updates[:limit]

        if timeout > 0:
            result = await self.updates_notifier.wait_until(pending, timeout)
        else:
            result = pending()
        result = list(result or [])
        self.world.updates_delivered += len(result)
        return result

    async def m_deletewebhook(self, params: Params) -> Any:
        if params.bool("drop_pending_updates"):
            self.world.updates.clear()
        self.world.webhook = None
        return True

    async def m_setwebhook(self, params: Params) -> Any:
        from .webhook import Webhook

        url = params.str("url") or ""
        if not url:
            self.world.webhook = None
            return True
        if not url.startswith(("http://", "https://")):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad("bad webhook: secret token contains unallowed characters")
        allowed = params.json("allowed_updates", "allowed updates")
        if params.bool("drop_pending_updates"):
            self.world.updates.clear()
        current = self.world.webhook
        if current is not None and (current.url, current.secret) == (url, secret):
            return True  # the same call again (e.g. from another process) changes nothing
        self.world.webhook = Webhook(url=url, secret=secret, max_connections=params.int("max_connections", 40) or 40,
                                     allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None)
        self.updates_notifier.notify()
        return True

    async def m_getwebhookinfo(self, params: Params) -> Any:
        hook = self.world.webhook
        info = {"url": hook.url if hook else "", "has_custom_certificate": False,
                "pending_update_count": len(self.world.updates)}
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date:
                info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
        return info

    async def m_logout(self, params: Params) -> Any:
        return True

    async def m_close(self, params: Params) -> Any:
        return True

    # ------------------------------------------------------------------ sending
    async def m_sendmessage(self, params: Params) -> Any:
        chat = self._target_chat(params)
        text, entities, html = self._formatted(params, "text", "entities", MAX_TEXT, caption=False)
        if not text:
            raise bad("message text is empty")
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        self._rate_limit("sendmessage", chat.id)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._store(chat, "text", content, html=html, markup=markup, reply_to=reply_to)

    async def m_sendphoto(self, params: Params) -> Any:
        chat = self._target_chat(params)
        caption, entities, caption_html = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION, caption=True
        )
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        known, upload = self._input_file(params, "photo", "photo")
        self._rate_limit("sendphoto", chat.id)
        world = self.world
        if upload is not None:
            sizes = world.make_photo_sizes(upload.data)
        else:
            rec = known["record"]  # type: ignore[index]
            sizes = [{"file_id": rec.file_id, "file_unique_id": rec.file_unique_id, "width": 800,
                      "height": 600, "file_size": len(rec.data)}]
            for msg_chat in world.chats.values():  # reuse the original size list if we know it
                for m in msg_chat.messages.values():
                    photo = m.content.get("photo")
                    if photo and any(s["file_id"] == rec.file_id for s in photo):
                        sizes = photo
                        break
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._store(chat, "photo", content, caption_html=caption_html if caption else None,
                           markup=markup, reply_to=reply_to)

    async def m_senddocument(self, params: Params) -> Any:
        chat = self._target_chat(params)
        caption, entities, caption_html = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION, caption=True
        )
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        known, upload = self._input_file(params, "document", "document")
        self._rate_limit("senddocument", chat.id)
        world = self.world
        if upload is not None:
            name = upload.filename or "document"
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
            rec = world.add_file("document", upload.data, file_name=name, mime_type=mime, ext=ext)
        else:
            rec = known["record"]  # type: ignore[index]
        doc = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id, "file_size": len(rec.data)}
        if rec.file_name:
            doc["file_name"] = rec.file_name
        if rec.mime_type:
            doc["mime_type"] = rec.mime_type
        content: dict[str, Any] = {"document": doc}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._store(chat, "document", content, caption_html=caption_html if caption else None,
                           markup=markup, reply_to=reply_to)

    async def m_sendchataction(self, params: Params) -> Any:
        self._target_chat(params)
        if not params.str("action"):
            raise bad("wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ editing
    async def m_editmessagetext(self, params: Params) -> Any:
        msg = self._editable(params)
        text, entities, html = self._formatted(params, "text", "entities", MAX_TEXT, caption=False)
        if not text:
            raise bad("message text is empty")
        if msg.kind != "text":
            raise bad("there is no text in the message to edit")
        markup = self._markup(params, inline_only=True)
        if text == msg.text and entities == msg.content.get("entities", []) and markup == msg.reply_markup:
            raise bad(NOT_MODIFIED)
        self._rate_limit("editmessagetext", msg.chat_id)
        msg.content = {"text": text, **({"entities": entities} if entities else {})}
        msg.html = html
        msg.reply_markup = markup
        return self._mark_edited(msg)

    async def m_editmessagecaption(self, params: Params) -> Any:
        msg = self._editable(params)
        if msg.kind not in ("photo", "document"):
            raise bad("there is no caption in the message to edit")
        caption, entities, caption_html = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION, caption=True
        )
        markup = self._markup(params, inline_only=True)
        if (caption or None) == msg.caption and entities == msg.content.get("caption_entities", []) \
                and markup == msg.reply_markup:
            raise bad(NOT_MODIFIED)
        msg.content.pop("caption", None)
        msg.content.pop("caption_entities", None)
        if caption:
            msg.content["caption"] = caption
            if entities:
                msg.content["caption_entities"] = entities
        msg.caption_html = caption_html if caption else None
        msg.reply_markup = markup
        return self._mark_edited(msg)

    async def m_editmessagereplymarkup(self, params: Params) -> Any:
        msg = self._editable(params)
        markup = self._markup(params, inline_only=True)
        if markup == msg.reply_markup or (not markup and not msg.reply_markup):
            raise bad(NOT_MODIFIED)
        msg.reply_markup = markup
        return self._mark_edited(msg)

    async def m_deletemessage(self, params: Params) -> Any:
        chat_id = params.int("chat_id", required=True)
        message_id = params.int("message_id", required=True)
        chat = self.world.chats.get(chat_id)  # type: ignore[arg-type]
        if chat is None:
            raise bad("chat not found")
        msg = chat.messages.get(message_id)  # type: ignore[arg-type]
        if msg is None or msg.deleted:
            raise bad("message to delete not found")
        msg.deleted = True
        self.changes_notifier.notify(chat.id)
        return True

    # ------------------------------------------------------------------ callbacks & files
    async def m_answercallbackquery(self, params: Params) -> Any:
        cq_id = params.str("callback_query_id")
        record = self.world.callbacks.get(cq_id or "")
        if record is None or record.answered:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.str("text")
        if text is not None and len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        record.answered = True
        record.text = text
        record.show_alert = params.bool("show_alert")
        record.url = params.str("url")
        record.cache_time = params.int("cache_time")
        self.changes_notifier.notify(("callback", record.id))
        return True

    async def m_getfile(self, params: Params) -> Any:
        record = self.world.files.get(params.str("file_id") or "")
        if record is None:
            raise bad("invalid file_id")
        return record.tg()

    # ------------------------------------------------------------------ commands & menu
    @staticmethod
    def _commands_key(params: Params) -> str:
        scope = params.json("scope", "bot command scope") or {"type": "default"}
        return json.dumps([scope, params.str("language_code") or ""], sort_keys=True)

    async def m_setmycommands(self, params: Params) -> Any:
        commands = params.json("commands", "bot commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse bot commands JSON object")
        clean = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise bad("can't parse bot commands JSON object")
            name = str(cmd.get("command", "")).lstrip("/")
            desc = str(cmd.get("description", ""))
            if not _COMMAND_NAME_RE.match(name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(desc) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": desc})
        self.world.commands[self._commands_key(params)] = clean
        return True

    async def m_getmycommands(self, params: Params) -> Any:
        return self.world.commands.get(self._commands_key(params), [])

    async def m_deletemycommands(self, params: Params) -> Any:
        self.world.commands.pop(self._commands_key(params), None)
        return True

    async def m_setchatmenubutton(self, params: Params) -> Any:
        button = params.json("menu_button", "menu button") or {"type": "default"}
        self.world.menu_buttons[params.str("chat_id") or ""] = button
        return True

    async def m_getchatmenubutton(self, params: Params) -> Any:
        return self.world.menu_buttons.get(params.str("chat_id") or "", {"type": "commands"})

    async def m_setmydescription(self, params: Params) -> Any:
        return True

    async def m_setmyshortdescription(self, params: Params) -> Any:
        return True

    async def m_setmyname(self, params: Params) -> Any:
        return True
