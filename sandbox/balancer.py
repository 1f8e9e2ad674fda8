"""A small round-robin load balancer for tests and benches (nginx's role in deploy/): each request goes to the
next backend; a backend that refuses the connection or answers 502/503 is skipped for the next."""

from __future__ import annotations

import itertools

import aiohttp
from aiohttp import web


class Balancer:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port: int | None = None
        self.forwarded: dict[str, int] = {backend: 0 for backend in backends}

    async def start(self) -> str:
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        start = next(self._turn)
        for attempt in range(len(self.backends)):
            backend = self.backends[(start + attempt) % len(self.backends)]
            try:
                async with self._client.request(request.method, backend + request.path_qs, data=body,
                                                headers=headers) as answer:
                    if answer.status in (502, 503) and attempt + 1 < len(self.backends):
                        continue
                    self.forwarded[backend] += 1
                    return web.Response(status=answer.status, body=await answer.read(),
                                        content_type=answer.content_type)
            except (aiohttp.ClientError, OSError):
                continue  # that process is down: the next one
        return web.Response(status=502, text="no backend answered")
