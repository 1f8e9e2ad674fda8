"""Wiring: settings → database → bot, dispatcher, routers and middlewares; polling, the scheduler
and the delivery worker, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand, ErrorEvent

from bot.delivery import DeliveryWorker
from bot.i18n import DEFAULT_LOCALE, LOCALES, PersonLocaleMiddleware, _, catalogues
from bot.middlewares import DatabaseMiddleware, ResidentCache, ResidentMiddleware
from bot.journal import RedisJournal, SqlJournal, UpdateJournal
from bot.loop import settle_heap
from bot.polling import BatchPoller, TolerantSession
from bot.render import Renderer
from bot.webhook import WebhookServer
from bot.callback_expiry import ExpiredCallbackAnswers
from bot.sender import Rate, Sender, install_rate_limiter
from bot.settings import Settings
from bot.shared_rate import SharedLimits
from bot.storage import ConversationCache, RedisConversationStorage, SqlStorage, UpdateFsm
from handlers import routers
from models.db import create_engine, session_factory, upgrade
from models.types import Clock, utcnow
from scheduler.callbacks import CallbackWorker, Scheduler
from scheduler.classifier import ClassifierRetrain
from scheduler.reports import MonthlyReport
from scheduler.retention import RetentionJob
from scheduler.sla_watch import SlaWatcher
from services import routing
from services.classify import Classifier, get_classifier
from services.filing import MatterRules
from services.majors import MajorRules
from services.satisfaction import CallbackPolicy
from services.sla import SlaPolicy
from services.staff import seed_teams

log = logging.getLogger(__name__)

RESIDENT_COMMANDS = ("start", "new", "my", "status", "add", "lang", "cancel", "help")


class MissingToken(RuntimeError):
    """Raised when the bot is started without BOT_TOKEN."""


def build_bot(settings: Settings) -> Bot:
    """An aiogram Bot for the official API or the sandbox, HTML parse mode by default."""
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        raise MissingToken("BOT_TOKEN is not set")
    session = TolerantSession(api=TelegramAPIServer.from_base(settings.telegram_api_base.rstrip("/")))
    session.middleware(ExpiredCallbackAnswers())
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def build_storage(settings: Settings, sessions) -> tuple[BaseStorage, BaseEventIsolation]:
    """Conversation state in Redis when configured, otherwise in the SQL database.

    Webhook processes (several behind a balancer) lock a chat in Redis while handling its update.
    A polling bot is the only process handling updates, one chat's one after another: it keeps
    the conversations in memory too (``ConversationCache``) and only writes them to the store."""
    storage = RedisConversationStorage(settings.redis_url) if settings.redis_url else SqlStorage(sessions)
    if settings.webhook_url:
        return storage, storage.create_isolation() if settings.redis_url else SimpleEventIsolation()
    storage.cache = ConversationCache()
    return storage, SimpleEventIsolation()


def build_journal(settings: Settings, sessions) -> UpdateJournal | None:
    """Where long polling keeps the updates it holds: beside the conversation state (Redis when
    configured, otherwise the database); none in webhook mode or with POLLING_JOURNAL off."""
    if settings.webhook_url or not settings.polling_journal:
        return None
    if settings.redis_url:
        token = settings.bot_token.get_secret_value() if settings.bot_token else ""
        return RedisJournal(settings.redis_url, token.split(":", 1)[0] or "bot")
    return SqlJournal(sessions)


async def on_error(event: ErrorEvent) -> bool:
    """Log the failure and tell the person something went wrong; their draft stays stored."""
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    chat_id = None
    if event.update.message:
        chat_id = event.update.message.chat.id
    elif event.update.callback_query and event.update.callback_query.message:
        chat_id = event.update.callback_query.message.chat.id
    if chat_id is not None:
        try:
            await event.update.bot.send_message(chat_id, _("internal_error"))
        except Exception:  # the error path must not raise again
            log.warning("could not report the error to chat %s", chat_id)
    return True


def build_dispatcher(settings: Settings, sessions, *, classifier: Classifier | None = None,
                     clock: Clock = utcnow) -> Dispatcher:
    """A dispatcher with routers, middlewares and the services handlers ask for by name."""
    storage, isolation = build_storage(settings, sessions)
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        disable_fsm=True,  # replaced by UpdateFsm: the conversation read and written once per update
        settings=settings,
        clock=clock,
        classifier=classifier or get_classifier(),
        sla=SlaPolicy.from_settings(settings),
        callback_policy=CallbackPolicy.from_settings(settings),
        matter_rules=MatterRules.from_settings(settings),
    )
    dispatcher.fsm = UpdateFsm(storage=storage, events_isolation=isolation)
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(DatabaseMiddleware(sessions))
    locale = PersonLocaleMiddleware(catalogues())
    # One process polling is the only one reading residents' updates: their rows can be cached.
    residents = ResidentMiddleware(ResidentCache() if not settings.webhook_url else None)
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.outer_middleware(residents)
        observer.outer_middleware(locale)
    dispatcher.errors.register(on_error)
    dispatcher.include_routers(*routers())
    return dispatcher


async def register_commands(bot: Bot) -> None:
    """The residents' command menu in every language (Telegram picks by the user's language)."""
    i18n = catalogues()
    for locale in LOCALES:
        with i18n.use_locale(locale):
            commands = [BotCommand(command=c, description=_(f"commands.{c}")) for c in RESIDENT_COMMANDS]
        if locale == DEFAULT_LOCALE:
            await bot.set_my_commands(commands)
        for language in {"zh_Hant": ("zh-hant", "zh-tw", "zh-hk"), "en": ("en",)}.get(locale, ()):
            await bot.set_my_commands(commands, language_code=language)


def build_web(settings: Settings, sessions, *, clock: Clock = utcnow, classifier: Classifier | None = None):
    """The desk's web console on WEB_HOST:WEB_PORT in this process (None when WEB_PORT=0); the
    port is served from the start, the console's app is built at its first request."""
    if not settings.web_port:
        return None
    from web.server import LazyApp, WebServer

    def console():
        from web import WebContext, create_app

        return create_app(WebContext(settings, sessions, clock=clock, classifier=classifier))

    return WebServer(LazyApp(console), settings.web_host, settings.web_port, lazy=True)


class HuifangApp:
    """The running bot: owns the engine, the Bot session, polling, the scheduler and delivery."""

    def __init__(self, settings: Settings, *, classifier: Classifier | None = None, with_scheduler: bool = True,
                 clock: Clock = utcnow, migration=None) -> None:
        self.settings = settings
        self.migration = migration  # a bot.migration.Migration already under way, else prepare() migrates
        self.clock = clock  # every "now" of handlers and jobs; tests pin it
        self.engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        self.sessions = session_factory(self.engine)
        self.bot = build_bot(settings)
        self.sender = Sender(self.bot)
        rate = settings.rate
        overall = Rate(rate.overall_per_second, 1.0, burst=rate.overall_burst)
        private = Rate(rate.private_per_second, 1.0, burst=rate.private_burst)
        group = Rate(rate.group_per_minute, 60.0, burst=5)
        # One send rate across processes: webhook mode runs several behind a balancer. A polling bot
        # is the only process sending (Telegram hands updates to one poller), so its own limiters are
        # exact and a message costs no Redis round trip.
        self.shared_limits = (SharedLimits(settings.redis_url, overall=overall, private=private, group=group)
                              if settings.redis_url and settings.webhook_url else None)
        install_rate_limiter(self.bot, overall=overall, private=private, group=group, on_forbidden=self.on_forbidden,
                             shared=self.shared_limits)
        policy = CallbackPolicy.from_settings(settings)
        self.delivery = DeliveryWorker(self.sessions, self.sender, Renderer(settings, catalogues()), policy=policy,
                                       clock=clock, poll=settings.delivery_poll.total_seconds(),
                                       lease=settings.delivery_lease)
        self.classifier = classifier or get_classifier()
        self.dispatcher = build_dispatcher(settings, self.sessions, classifier=self.classifier, clock=clock)
        self.worker = CallbackWorker(self.sessions, policy, clock=clock)
        self.sla_watcher = SlaWatcher(self.sessions, SlaPolicy.from_settings(settings),
                                      nudge_after=settings.progress_nudge_after, major_after=settings.major_after,
                                      action_remind_before=settings.sla.action_remind_before,
                                      major_rules=MajorRules.from_settings(settings),
                                      clock=clock)
        self.monthly = MonthlyReport(self.sessions, day=settings.report_day, at=settings.report_time, tz=settings.tz,
                                     clock=clock, review=settings.report_review)
        self.retention = RetentionJob(self.sessions, keep=settings.retention, at=settings.retention_at,
                                      tz=settings.tz, clock=clock)
        self.retrain = ClassifierRetrain.from_settings(self.sessions, self.classifier, settings)
        self.scheduler = (Scheduler(self.worker, self.sla_watcher, self.monthly, self.retention, self.retrain,
                                    tick_seconds=settings.scheduler_tick.total_seconds())
                          if with_scheduler else None)
        self.poller = BatchPoller(self.dispatcher, self.bot, timeout=settings.polling_timeout,
                                  journal=build_journal(settings, self.sessions),
                                  journal_flush=settings.polling_journal_flush.total_seconds())
        self.webhook = WebhookServer(self) if settings.webhook_url else None
        self.web = build_web(settings, self.sessions, clock=clock, classifier=self.classifier)
        self._task: asyncio.Task | None = None
        self._announcing: asyncio.Task | None = None

    async def on_forbidden(self, chat_id: int, description: str) -> None:
        """A chat refused a message (blocked, or never started): remember who cannot be reached."""
        async with self.sessions() as session:
            person = await routing.staff_of_chat(session, chat_id)
            if person is not None:
                await routing.staff_unreachable(session, person.id, now=self.clock())
                return
            from sqlmodel import select

            from models.tables import Resident

            resident = (await session.exec(select(Resident).where(Resident.chat_id == chat_id))).first()
            if resident is not None:
                await routing.resident_unreachable(session, resident.id)

    async def prepare(self, *, announce: bool = True) -> None:
        """Migrate the schema, seed the teams, announce the command menu (``announce``; ``run``
        does it once polling has started), start the workers."""
        if self.migration is not None:
            await self.migration.wait()
        else:
            await upgrade(self.settings.database_url, separate_process=True)  # alembic stays out of the bot
        async with self.sessions() as session:
            await seed_teams(session)
        if self.webhook is None:
            await self.bot.delete_webhook(drop_pending_updates=False)
        else:
            await self.webhook.start()
            # Every process may call this: the same arguments change nothing (stopping one of N
            # processes does not delete the webhook; `python -m bot webhook delete` does).
            secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else None
            await self.bot.set_webhook(self.settings.webhook_url, secret_token=secret, drop_pending_updates=False,
                                       allowed_updates=self.dispatcher.resolve_used_update_types())
        if announce or self.webhook is not None:
            await register_commands(self.bot)
        if self.web is not None:
            await self.web.start()
        self.delivery.start()
        if self.scheduler is not None:
            self.scheduler.start()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Serve until SIGINT/SIGTERM (the updates in hand are finished first)."""
        await self.prepare(announce=False)
        me = await self.bot.get_me()
        if self.webhook is not None:
            settle_heap()
            log.info("webhook mode as @%s: %s", me.username, self.settings.webhook_url)
            stopped = asyncio.Event()
            if handle_signals:
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stopped.set)
            await stopped.wait()
            return
        log.info("polling as @%s via %s", me.username, self.settings.telegram_api_base)
        if handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.poller.stop)
        # the command menu (four Bot API calls) is announced and the heap settled (a tenth of a
        # second) while the first poll is under way
        self._announcing = asyncio.create_task(self._after_first_poll(), name="commands")
        await self.poller.run()

    async def _after_first_poll(self) -> None:
        """Announce the command menu, then settle the heap, once the first getUpdates is out."""
        await self.poller.ready.wait()  # the first getUpdates goes first
        try:
            await register_commands(self.bot)
        except Exception:  # the menu is a convenience: polling goes on without it
            log.exception("could not register the command menu")
        finally:
            settle_heap()

    async def start(self) -> None:
        """Start serving in the background (tests, demo) once the bot is ready."""
        await self.prepare()
        if self.webhook is not None:
            return
        self._task = asyncio.create_task(self.poller.run())
        await asyncio.wait({self._task, asyncio.create_task(self.poller.ready.wait())},
                           return_when=asyncio.FIRST_COMPLETED)

    async def stop(self) -> None:
        """Stop polling and the workers, release connections, as a process exit would."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.web is not None:
            await self.web.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        self.poller.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._announcing is not None:
            if not self.poller.ready.is_set():  # polling never began: nothing to announce after
                self._announcing.cancel()
            await asyncio.gather(self._announcing, return_exceptions=True)
            self._announcing = None
        await self.delivery.stop()
        if self.poller.journal is not None:
            await self.poller.journal.close()
        if self.shared_limits is not None:
            await self.shared_limits.close()
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        await self.engine.dispose()
