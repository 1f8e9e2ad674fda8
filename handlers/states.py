"""Conversation states of the resident intake."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Intake(StatesGroup):
    """Description → location → contact → confirm."""

    description = State()
    location = State()
    contact = State()
    confirm = State()


def current_step(state: str | None) -> str | None:
    """The step name ("description", …) of a stored state string, or None when idle."""
    if state and state.startswith("Intake:"):
        return state.split(":", 1)[1]
    return None
