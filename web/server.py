"""Serving the console with uvicorn inside the bot's own asyncio loop (one process, one database)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import socket
import sys
import threading

log = logging.getLogger(__name__)


def _uvicorn_server(config):
    """uvicorn's Server without its signal handlers: the bot's process decides when to stop."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            yield

        def install_signal_handlers(self) -> None:  # older uvicorn
            return None

    return Server(uvicorn.Config(**config))


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
    """Binds WEB_HOST:WEB_PORT (a clear error when taken) and serves the app until stopped.

    ``lazy``: the port is bound and listening from the start, but uvicorn is imported and started
    only when the first connection arrives (it waits in the listen backlog meanwhile) — like the
    :class:`LazyApp`, nothing of the console is in the memory of a bot whose console nobody opened.
    """

    def __init__(self, app, host: str, port: int, *, lazy: bool = False) -> None:
        self.app, self.host, self.port, self.lazy = app, host, port, lazy
        self._server = None
        self._task: asyncio.Task | None = None
        self._sock: socket.socket | None = None
        self._waiting = False  # lazy, and no connection yet: the socket is watched for one

    @property
    def serving(self) -> bool:
        """uvicorn runs (a lazy server before its first connection does not)."""
        return self._server is not None

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
        self._sock = sock
        log.info("web console on http://%s:%s", self.host, self.port)
        if self.lazy:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._first_connection)
            self._waiting = True
            return
        await self._serve()

    def _first_connection(self) -> None:
        self._unwatch()
        self._task = asyncio.create_task(self._serve(), name="web")

    def _unwatch(self) -> None:
        if self._waiting and self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._waiting = False

    async def _serve(self) -> None:
        """Start uvicorn on the bound socket; returns once it accepts connections."""
        if "uvicorn" not in sys.modules:  # imported beside the loop: the bot goes on meanwhile
            await asyncio.to_thread(importlib.import_module, "uvicorn")
        self._server = _uvicorn_server(dict(app=self.app, log_level="warning", lifespan="off", access_log=False,
                                            proxy_headers=False, interface="asgi3"))
        serving = asyncio.create_task(self._server.serve(sockets=[self._sock]), name="web-serve")
        self._task = serving
        while not self._server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        self._unwatch()
        if self._server is not None:
            self._server.should_exit = True
        elif self._task is not None:
            self._task.cancel()  # still starting: uvicorn was being imported
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()
        self._server = self._task = self._sock = None
