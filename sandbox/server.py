"""HTTP server of the Telegram sandbox: Bot API emulation plus the control API.

The real ``aiogram.Bot`` talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))``.
"""

from __future__ import annotations

import json
import re
import socket
from functools import partial
from typing import Any

from aiohttp import web

from .botapi import BotApi, Params, Upload, bad
from .control import ControlApi
from .state import ApiError, Notifier, World
from .webhook import WebhookPusher

_TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{20,}$")
_dumps = partial(json.dumps, ensure_ascii=False)


class SandboxServer:
    """A local, in-memory Telegram Bot API server with a control API for tests."""

    def __init__(
        self,
        *,
        bot_token_check: bool = False,
        bot_username: str = "huifang_bot",
        bot_id: int = 7000000001,
        rate_limits: bool = False,
        bot_first_name: str = "Huifang",
    ) -> None:
        self.bot_token_check = bot_token_check
        self.bot_id = bot_id
        self.bot_username = bot_username
        self._default_rate_limits = rate_limits
        self.world = World()
        self.updates = Notifier()
        self.changes = Notifier()
        self.api = BotApi(
            lambda: self.world,
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            updates_notifier=self.updates,
            changes_notifier=self.changes,
        )
        self.api.rate_limits = rate_limits
        self.control = ControlApi(self)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.webhook = WebhookPusher(self)

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("SandboxServer is not started")
        return self._base_url

    def make_app(self) -> web.Application:
        """Build the aiohttp application (routes for Bot API, files and control)."""
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self.control.middleware])
        app.add_routes(
            [
                web.get("/", self._index),
                web.route("*", "/bot{token}/{method}", self._bot_method),
                web.get("/file/bot{token}/{path:.+}", self._download),
                *self.control.routes(),
            ]
        )
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening (``port=0`` picks a free port); return the base URL."""
        if self._runner is not None:
            return self.base_url
        self.updates = self.api.updates_notifier = Notifier()
        self.changes = self.api.changes_notifier = Notifier()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
        runner = web.AppRunner(
            self.make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self.webhook.start()
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        """Wake all long polls and shut the server down."""
        if self._runner is None:
            return
        await self.webhook.stop()
        self.updates.close()
        self.changes.close()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._base_url = None

    async def __aenter__(self) -> "SandboxServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget all users, chats, updates, faults and logs (update ids keep increasing)."""
        next_update_id = self.world.next_update_id
        self.world = World()
        self.world.next_update_id = next_update_id
        self.api.rate_limits = self._default_rate_limits
        self.updates.notify()
        self.changes.notify()

    # ---------------------------------------------------------------- HTTP handlers
    async def _index(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"sandbox": "telegram", "bot": self.api.bot_user(), "rate_limits": self.api.rate_limits}
        )

    def _check_token(self, token: str) -> None:
        if not self.bot_token_check:
            return
        m = _TOKEN_RE.match(token)
        if m is None or int(m.group(1)) != self.bot_id:
            raise ApiError(401, "Unauthorized")

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "multipart/form-data":
                reader = await request.multipart()
                async for part in reader:
                    if part is None or not hasattr(part, "filename"):
                        continue
                    if part.filename is not None:
                        data = await part.read(decode=False)
                        uploads[part.name or "file"] = Upload(
                            part.filename, bytes(data), part.headers.get("Content-Type")
                        )
                    else:
                        values[part.name or ""] = await part.text()
            elif ctype == "application/x-www-form-urlencoded":
                form = await request.post()
                values.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                raw = await request.text()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise bad("can't parse JSON request body") from None
                    if not isinstance(body, dict):
                        raise bad("request body must be a JSON object")
                    values.update(body)
        return Params(values, uploads)

    async def _bot_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            self._check_token(request.match_info["token"])
            params = await self._read_params(request)
            result = await self.api.call(method, params, gone=lambda: request.transport is None
                                         or request.transport.is_closing())
        except ApiError as exc:
            return web.json_response(exc.payload(), status=exc.code, dumps=_dumps)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        try:
            self._check_token(request.match_info["token"])
        except ApiError as exc:
            return web.json_response(exc.payload(), status=exc.code)
        record = self.world.files_by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=record.data, content_type=record.mime_type or "application/octet-stream")
