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
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
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


class CommandOrState(Filter):
    """A router's gate for messages: a command (text or caption starting with ``/``, as aiogram's
    ``Command`` reads it) or a conversation in a state of ``groups``. A router whose every message
    handler needs one of the two is passed over in one check by everything else: a resident's
    intake message went through some 30 handlers' filters in the staff routers."""

    def __init__(self, *groups: type[StatesGroup]) -> None:
        self.states = frozenset(state.state for group in groups for state in group.__all_states__)

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        text = message.text or message.caption
        return bool(text and text.startswith("/")) or raw_state in self.states

    def __str__(self) -> str:
        return f"CommandOrState({sorted(self.states)})"


class CallbackOf(Filter):
    """A router's gate for buttons: callback data of one of ``kinds`` (their prefix); a router whose
    every button handler unpacks one of them is passed over in one check by other buttons."""

    def __init__(self, *kinds: type[CallbackData]) -> None:
        self.prefixes = tuple(kind.__prefix__ + kind.__separator__ for kind in kinds)
        self.kinds = kinds

    async def __call__(self, query: CallbackQuery) -> bool:
        return bool(query.data) and query.data.startswith(self.prefixes)

    def __str__(self) -> str:
        return f"CallbackOf({', '.join(kind.__name__ for kind in self.kinds)})"


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
