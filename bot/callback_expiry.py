"""Answering a callback query that Telegram no longer accepts is not a failure of the update.

Telegram takes one answer per callback query, within about 15 seconds. After a crash an update
is handled again, and its first handling may already have answered the query (or the query is
simply too old now): the answer is refused with "query is too old … or query ID is invalid".
The answer only stops the button's spinner, so the update carries on (e.g. the receipt of a
submitted complaint is still sent) instead of ending in the error reply.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

EXPIRED = ("query is too old", "query id is invalid")


class ExpiredCallbackAnswers(BaseRequestMiddleware):
    """Turns Telegram's refusal of a stale callback answer into a logged no-op."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                      method: TelegramMethod[TelegramType]) -> Any:
        if not isinstance(method, AnswerCallbackQuery):
            return await make_request(bot, method)
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if not any(phrase in error.message.lower() for phrase in EXPIRED):
                raise
            log.info("callback query %s could not be answered any more: %s", method.callback_query_id, error.message)
            return True
