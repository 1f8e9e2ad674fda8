"""aiogram routers, in the order they must be included."""

from aiogram import Router

from handlers import common, fallback, intake, tickets


def routers() -> list[Router]:
    """Commands that work in every state first; the intake dialogue; the catch-all last."""
    return [common.router, tickets.router, intake.router, fallback.router]


__all__ = ["routers"]
