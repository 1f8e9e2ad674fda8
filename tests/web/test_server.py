"""The console's server: bound from the start, uvicorn started by the first connection when lazy."""

from __future__ import annotations

import socket

import httpx
import pytest

from web.server import WebServer


async def hello(scope, receive, send) -> None:
    """A minimal ASGI app: 200 and a word."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class TestLazyServer:
    async def test_the_first_connection_starts_it_and_is_answered(self):
        server = WebServer(hello, "127.0.0.1", 0, lazy=True)
        await server.start()
        try:
            assert server.port and not server.serving  # listening, uvicorn not started
            async with httpx.AsyncClient() as client:
                first = await client.get(f"http://127.0.0.1:{server.port}/", timeout=30)
                second = await client.get(f"http://127.0.0.1:{server.port}/", timeout=30)
            assert (first.status_code, first.text, second.text) == (200, "hello", "hello")
            assert server.serving
        finally:
            await server.stop()
        assert port_is_free(server.port)

    async def test_stopped_before_any_connection_it_frees_the_port(self):
        server = WebServer(hello, "127.0.0.1", 0, lazy=True)
        await server.start()
        port = server.port
        assert not port_is_free(port)
        await server.stop()
        assert not server.serving and port_is_free(port)

    async def test_a_taken_port_is_a_clear_error(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            server = WebServer(hello, "127.0.0.1", taken.getsockname()[1], lazy=True)
            with pytest.raises(RuntimeError, match="WEB_PORT"):
                await server.start()


async def test_an_eager_server_serves_at_once():
    server = WebServer(hello, "127.0.0.1", 0)
    await server.start()
    try:
        assert server.serving
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{server.port}/", timeout=30)).text == "hello"
    finally:
        await server.stop()
