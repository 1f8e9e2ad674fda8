"""The event loop the bot runs on: uvloop when it is installed (its loop, sockets and transports
are C: less CPU per callback, read and write than asyncio's own), else asyncio's.
``HUIFANG_EVENT_LOOP=asyncio`` asks for asyncio's loop even with uvloop installed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "HUIFANG_EVENT_LOOP"


def loop_factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default (``name``: "uvloop", "asyncio", or
    None for the environment's choice, uvloop when importable)."""
    name = (name or os.environ.get(ENV) or "uvloop").strip().lower()
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise ValueError(f"{ENV}: unknown event loop {name!r} (uvloop, asyncio)")
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> str:
    return "asyncio" if factory is None else factory.__module__.split(".")[0]


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """``asyncio.run(main)`` on the bot's event loop."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
