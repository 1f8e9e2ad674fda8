"""aiogram routers, in the order they must be included."""

from aiogram import Router

from handlers import callback_answers, common, fallback, intake, reports, staff, tickets


def routers() -> list[Router]:
    """Staff (deep links, staff commands) first; commands that work in every state; the intake
    dialogue; the catch-all last."""
    return [staff.router, reports.router, common.router, tickets.router, callback_answers.router, intake.router, fallback.router]


__all__ = ["routers"]
