"""Serving the console with uvicorn inside the bot's own asyncio loop (one process, one database)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading

import uvicorn

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the bot's process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return None


class LazyApp:
    """An ASGI app built at its first request (or first attribute read), not at start.

    The console (FastAPI, Starlette, Jinja and every route) is ~20 MB of memory and a second or
    two of start-up that a bot nobody has opened the console of does not need; the first request
    builds it in a worker thread (the bot keeps serving meanwhile), later ones go straight to it.
    """

    def __init__(self, build) -> None:
        self._build = build
        self._app = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._app is not None

    def get(self):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
        return self._app

    async def __call__(self, scope, receive, send) -> None:
        app = self._app
        if app is None:
            app = await asyncio.to_thread(self.get)
        await app(scope, receive, send)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get(), name)


class WebServer:
    """Binds WEB_HOST:WEB_PORT (a clear error when taken) and serves the app until stopped."""

    def __init__(self, app, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: _Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise RuntimeError(f"the web console cannot listen on {self.host}:{self.port} ({error}); "
                               f"set WEB_PORT (0 turns the console off)") from error
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                proxy_headers=False, interface="asgi3")
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
        log.info("web console on http://%s:%s", self.host, self.port)

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None
