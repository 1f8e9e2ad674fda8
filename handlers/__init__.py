"""aiogram routers, in the order they must be included (a fresh set for each dispatcher)."""

from aiogram import Router

from handlers import callback_answers, common, fallback, intake, majors, procedure, reports, staff, tickets


def routers() -> list[Router]:
    """Staff (deep links, staff commands) first; commands that work in every state; the intake
    dialogue; the catch-all last."""
    return [module.handlers.router() for module in (staff, procedure, majors, reports, common, tickets, callback_answers,
                                                    intake,
                                                    fallback)]


__all__ = ["routers"]
