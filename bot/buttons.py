"""Inline button payloads. Telegram caps callback_data at 64 bytes; every field here is short."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# Ids in buttons are never trusted: a forged, out-of-range number does not even parse (so the
# person is told the button is no longer valid instead of the database failing on it).
RowId = Annotated[int, Field(ge=0, le=2**31 - 1)]


class MenuCb(CallbackData, prefix="m"):
    """Main menu: new / my / help."""

    action: str


class IntakeCb(CallbackData, prefix="in"):
    """Buttons of one intake draft; ``draft`` ties a button to the draft it was made for."""

    action: str  # submit | desc | loc | contact | cancel | lastloc
    draft: str


class TicketCb(CallbackData, prefix="tk"):
    """Show one of the resident's tickets."""

    number: str


class StaffCb(CallbackData, prefix="st"):
    """Staff actions on a ticket; ``ticket`` is the id, ``arg`` a team code, staff id or category index."""

    action: str  # acc | tr | trt | trp | cat | setc | res | view | x
    ticket: RowId
    arg: str = ""


class InfoCb(CallbackData, prefix="ai"):
    """A resident adds information to their open ticket."""

    ticket: RowId


class RatingCb(CallbackData, prefix="cb"):
    """A rating button of a satisfaction prompt: ``rating`` 1..5, 0 = not solved."""

    attempt: RowId
    rating: Annotated[int, Field(ge=0, le=5)]


class CommentCb(CallbackData, prefix="cc"):
    """Skip the optional comment after a rating."""

    round: RowId


class LangCb(CallbackData, prefix="lg"):
    """/lang: a locale, or "auto" (follow Telegram's language)."""

    locale: str


class ReviewCb(CallbackData, prefix="rv"):
    """The monthly report draft: ``ap`` approve and send, ``sm`` write the analysis summary."""

    action: str  # ap | sm
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]
