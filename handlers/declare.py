"""Handlers declared once per module, routers built per dispatcher.

aiogram attaches a Router to exactly one parent, so module-level routers could serve only one
dispatcher per process (tests and the demo run several). A module declares its handlers on a
:class:`Handlers` with the same decorators a Router has; :meth:`Handlers.router` builds a fresh
Router from them through aiogram's public API.

Magic filters (``F.text``, ``F.chat.type == "private"`` …) and states are registered wrapped in an async
:class:`InlineFilter`: aiogram runs every synchronous filter through ``asyncio.to_thread`` — a
thread hop and a fight for the GIL for each of the dozens of checks an update goes through —
while resolving a magic filter takes microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.fsm.state import State
from magic_filter import MagicFilter


class InlineFilter(Filter):
    """A synchronous filter (a magic filter, a State) evaluated in the event loop: same result, no thread."""

    def __init__(self, check: Any) -> None:
        self.check = check
        self.callable = FilterObject(check)  # aiogram's own reading of its parameters

    async def __call__(self, event: Any, **kwargs: Any) -> Any:
        return self.callable.callback(event, **self.callable._prepare_kwargs(kwargs))

    def __str__(self) -> str:
        return f"InlineFilter({self.check!r})"


def inline(filters) -> tuple:
    """The filters with every synchronous one wrapped in an :class:`InlineFilter`."""
    return tuple(InlineFilter(f) if isinstance(f, (MagicFilter, State)) else f for f in filters)


class _Observer:
    """``handlers.message(...)`` / ``handlers.callback_query(...)`` and ``.filter(...)``."""

    def __init__(self, owner: Handlers, name: str) -> None:
        self.owner = owner
        self.name = name
        self.filters: list[Any] = []

    def __call__(self, *filters: Any, **kwargs: Any) -> Callable:
        def register(callback: Callable) -> Callable:
            self.owner.registrations.append((self.name, callback, filters, kwargs))
            return callback

        return register

    def filter(self, *filters: Any) -> None:
        self.filters.extend(filters)


class Handlers:
    """The handlers of one module, in declaration order (which is also matching order)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.registrations: list[tuple[str, Callable, tuple, dict]] = []
        self.message = _Observer(self, "message")
        self.callback_query = _Observer(self, "callback_query")

    def router(self) -> Router:
        router = Router(name=self.name)
        for observer in (self.message, self.callback_query):
            if observer.filters:
                getattr(router, observer.name).filter(*inline(observer.filters))
        for name, callback, filters, kwargs in self.registrations:
            getattr(router, name).register(callback, *inline(filters), **kwargs)
        return router
