"""The event loop the bot runs on, and the heap settled once the bot is loaded.

asyncio's loop by default; ``HUIFANG_EVENT_LOOP=uvloop`` runs on uvloop when it is installed (not a
dependency: on the intake bench it made no difference beyond the run-to-run noise, bot and echo
bot alike, 2026-12-03)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "HUIFANG_EVENT_LOOP"


def loop_factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default (``name``: "uvloop", "asyncio", or
    None for the environment's choice, asyncio unless it says uvloop; uvloop only when importable)."""
    name = (name or os.environ.get(ENV) or "asyncio").strip().lower()
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


# Young objects collected every 20,000 allocations instead of 700: the objects an update makes
# mostly die by reference count, so fewer, larger young collections cost far less in total.
GC_THRESHOLDS = (20_000, 20, 20)


def settle_heap(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Once the bot is loaded (modules, dictionary, routers, pools): collect, then move everything
    alive to the collector's permanent generation (``gc.freeze``), so a full collection no longer
    walks the hundreds of thousands of long-lived objects every time (measured on the intake
    bench: about 1.9 ms of garbage collection per update before, 0.2 ms after), and collect the
    young generation less often. For ``python -m bot`` (and the benches), not for tests that
    start many bots in one process: frozen objects are never freed."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
