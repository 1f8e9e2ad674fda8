"""Operating the bot: liveness (/healthz), readiness (/readyz: database and Redis answer) and
Prometheus metrics (/metrics) — updates by type, handler latency, messages sent, 429s and 403s,
scheduler tick time, the callback backlog and open tickets by status."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, text
from sqlmodel import col, select

from models.tables import CallbackAttempt, Complaint

log = logging.getLogger(__name__)

UPDATES = Counter("huifang_updates_total", "Updates received, by type", ["kind"])
HANDLER_SECONDS = Histogram("huifang_handler_seconds", "Time to handle one update")
SENT = Counter("huifang_messages_sent_total", "Messages sent to Telegram")
REFUSED = Counter("huifang_telegram_errors_total", "Telegram refusals, by code", ["code"])
TICK_SECONDS = Histogram("huifang_tick_seconds", "Time of one scheduler tick, by job", ["job"])
BACKLOG = Gauge("huifang_callback_backlog", "Satisfaction prompts due and not yet sent")
OPEN = Gauge("huifang_tickets", "Tickets by status", ["status"])


async def database_answers(app) -> bool:
    try:
        async with app.sessions() as session:
            await session.exec(text("SELECT 1"))
        return True
    except Exception as error:  # any failure means "not ready"
        log.warning("readiness: database does not answer: %s", error)
        return False


async def redis_answers(app) -> bool | None:
    """None when no Redis is configured."""
    if not app.settings.redis_url:
        return None
    from redis.asyncio import Redis

    client = Redis.from_url(app.settings.redis_url)
    try:
        return bool(await client.ping())
    except Exception as error:
        log.warning("readiness: Redis does not answer: %s", error)
        return False
    finally:
        await client.aclose()


async def refresh_gauges(app) -> None:
    """The figures read at scrape time from the database."""
    async with app.sessions() as session:
        due = await session.exec(select(func.count()).select_from(CallbackAttempt).where(
            col(CallbackAttempt.state).in_(("pending", "claimed")), CallbackAttempt.due_at <= app.clock()))
        BACKLOG.set(due.one())
        for status, count in (await session.exec(select(Complaint.status, func.count()).group_by(Complaint.status))).all():
            OPEN.labels(status=status).set(count)


def routes(app) -> list[web.RouteDef]:
    """aiohttp routes for one HuifangApp."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        database, redis = await database_answers(app), await redis_answers(app)
        ready = database and redis is not False
        return web.json_response({"ok": ready, "database": database, "redis": redis}, status=200 if ready else 503)

    async def metrics(_request: web.Request) -> web.Response:
        await refresh_gauges(app)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)]
