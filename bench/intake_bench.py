"""Intake throughput of the bot against a minimal aiogram echo bot, on the same sandbox, in one run.

Run: ``python -m bench.intake_bench [--residents 50] [--complaints 4]
[--backends sqlite,postgres,redis] [--staff N] [--repeat N] [--floor] [--profile] [--pg-url URL] [--redis-url URL]``

For each backend (``sqlite``: a temporary file; ``postgres``: the database of ``--pg-url``,
default ``bench``, dropped and recreated; ``redis``: that PostgreSQL database plus
conversation state in Redis, ``--redis-url`` db 9 by default, flushed):

1. a *driver* process starts the Telegram sandbox (``sandbox.SandboxServer``) and plays the
   residents through ``sandbox.SandboxClient``; the bot runs in this process, so the CPU time
   measured here (``time.process_time``) is the bot's alone;
2. the bot (``bot.app.HuifangApp``, scheduler off, send rates out of the way) is started on a
   fresh database, warmed up with a few complaints, then N residents file M complaints each, all
   at once, each resident waiting for the bot's answer before the next step (as in
   ``tests/e2e/flows.py``): description → location → share-phone → 确认提交, 4 updates each;
3. a minimal aiogram echo bot (aiogram's own polling, one message handler answering with a
   button, one callback handler) gets the same number of updates from the same number of users in
   the same pattern (three messages and one button press per "complaint"), on a new sandbox
   started by the same kind of driver.

``--staff N`` (default 0) binds N staff members per team before the run (their chats opened with
``/start`` by the driver), so tickets are assigned and the assignee's card is delivered, as in a
staffed deployment; with 0 every ticket waits in its team's queue and nobody is pinged.

``--repeat N`` (default 1) measures N pairs per backend, each the echo bot's run and then the bot's
on a fresh database, and prints each pair and then the medians — the ratio's median is the median
of the pairs' ratios. On a machine shared with other work one pair's ratio moves by a third from
run to run; the median of alternating pairs is the figure to compare.

``--floor`` also runs the conversation's floor on the same kind of sandbox: a minimal aiogram bot
that makes the same Bot API calls per complaint as the bot (the same prompts and keyboards from the
bot's catalogue, the summary, the receipt, and with ``--staff`` the staff card), keeps its conversation state in
aiogram's own storage (Redis on the ``redis`` backend, memory otherwise) and touches no database:
what any bot on aiogram pays for this conversation, so bot ÷ floor is the share of the bot's rate
left after its own work (database, outbox, journal, classification, middlewares).

Printed per backend: updates/s and CPU ms per update of both, the ratio bot ÷ echo, the
``getUpdates`` polls per update and the updates they handed out per update (above 1: answers
repeating unconfirmed updates), the residents' side's CPU per update (sandbox and clients: on a
2-core machine it shares the cores with the bot), SQL statements per intake update (SQLAlchemy ``before_cursor_execute`` inside the update's handling,
plus the ones of the delivery worker), connection checkouts per update, and the database connections
opened during the run with the most in use at once (the pool reopens what it cannot keep). ``--profile`` runs
cProfile over the bot's measured run and prints the top functions (per update: divide by the
update count printed); ``BENCH_DRIVER_PROFILE=PATH`` writes a cProfile of the residents' side's
measured run to ``PATH.bot`` and ``PATH.echo``. Also printed: Redis round trips of the bot's process
per update, on PostgreSQL the transaction round trips (BEGIN, COMMIT, ROLLBACK) per update, and the
Bot API calls other than ``getUpdates`` per update. Figures only; nothing here
asserts on speed.

The machine's budget (``--goal``, default 0.3 of the echo bot's rate): the bot runs on one core, and
everything it needs per update shares the machine's cores with it — the residents' side (sandbox and
clients, measured in the driver process) and the database servers when they run on this machine
(PostgreSQL's and Redis's processes, their ended children included, read with psutil over the measured
run; a server at another address is not counted). Printed per pair: that CPU outside the bot per
update, the cores busy during the run (bot, residents' side and servers together), and the CPU per
update the bot itself may spend at the goal's rate — ``min(1 core, cores − rate × outside) ÷ rate`` —
against what it spent. With ``--floor`` the same is printed for the floor, and the bot's budget again
with the floor's residents' side: that side costs more per update when its partner is slow (its event
loop wakes for fewer events at a time), and the floor runs near the goal's pace.

The bot and the echo bot run on the event loop ``python -m bot`` runs on (``bot/loop.py``:
asyncio's, or ``HUIFANG_EVENT_LOOP``'s; ``--loop uvloop|asyncio``) and with the same heap settling
(``bot.loop.settle_heap``: collected and frozen once loaded, as ``HuifangApp.run`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import contextlib
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

TOKEN = "123456:BENCH-sandbox-token-0000"
STEPS = 4  # updates per complaint: description, location, contact, confirm
DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
MESSAGES = [line.strip() for line in Path(__file__).with_name("chat_messages.txt").read_text("utf-8").splitlines()
            if line.strip()]
LOCATIONS = ["3栋1单元1202", "5号楼803", "地下车库B2区", "小区北门", "12栋2单元601"]
GOAL = 0.3  # issue #15: the bot's rate ÷ the echo bot's, PostgreSQL + Redis
SERVER_PROCESSES = {"PostgreSQL": ("postgres", "postmaster"), "Redis": ("redis-server",)}


# --- the machine's budget: CPU outside the bot per update, and what that leaves the bot -------------

def on_this_machine(url: str | None) -> bool:
    """Whether a database URL's server runs here: a loopback address, or no host (a Unix socket)."""
    if not url or url.startswith("sqlite"):
        return False
    host = urlsplit(url).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def local_servers(database_url: str | None, redis_url: str | None) -> dict[str, tuple[str, ...]]:
    """The database servers of a run that share this machine's cores, by label: their process names."""
    urls = {"PostgreSQL": database_url, "Redis": redis_url}
    return {label: SERVER_PROCESSES[label] for label, url in urls.items() if on_this_machine(url)}


def servers_cpu(servers: dict[str, tuple[str, ...]], processes: Iterable | None = None) -> dict[str, float]:
    """CPU seconds (user + system) spent so far by each server's processes, their ended children included
    (PostgreSQL's backends are the postmaster's children and come and go with the connections)."""
    if not servers:
        return {}
    if processes is None:
        import psutil

        processes = psutil.process_iter(["name", "cpu_times"])
    seconds = dict.fromkeys(servers, 0.0)
    for process in processes:
        name, times = process.info["name"], process.info["cpu_times"]
        for label, names in servers.items():
            if name in names and times is not None:
                seconds[label] += times.user + times.system + times.children_user + times.children_system
    return seconds


def bot_budget_ms(*, goal_rate: float, cores: int, outside_ms: float) -> float:
    """CPU ms per update the bot may spend to handle ``goal_rate`` updates/s when the rest of what each
    update needs costs ``outside_ms`` on the same ``cores``: the bot has one core at most, and it all
    has to fit on the machine (negative: the rest alone does not fit)."""
    return min(1000 / goal_rate, 1000 * cores / goal_rate - outside_ms)


def machine_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- the driver: sandbox + residents, in its own process -------------------------------------------


async def _resident_bot(client, uid: int, complaints: int, timeout: float) -> None:
    from bot.i18n import catalogues

    share = catalogues().text("btn_share_phone", locale="zh_Hans")
    user = client.user(uid, first_name=f"住户{uid}", phone=f"138{uid % 10**8:08d}")
    for c in range(complaints):
        description = MESSAGES[(uid + c) % len(MESSAGES)]
        await user.send(description)
        await user.expect("在哪里", timeout)
        await user.send(LOCATIONS[(uid + c) % len(LOCATIONS)])
        await user.expect("联系方式", timeout)
        await user.tap(share)
        summary = await user.expect("请确认", timeout)
        await user.press("确认提交", summary)
        while True:  # a receipt, or "merged into your earlier ticket"
            reply = await user.next_message(timeout)
            if "/status" in (reply.text or "") or "工单号" in (reply.text or ""):
                break


async def _resident_echo(client, uid: int, complaints: int, timeout: float) -> None:
    user = client.user(uid, first_name=f"住户{uid}")
    for c in range(complaints):
        for step in range(STEPS - 1):
            token = f"e{uid}-{c}-{step}"
            await user.send(token)
            echoed = await user.expect(token, timeout)
        await user.press("ok", echoed)
        await user.expect(f"pressed {uid}", timeout)


async def _open_chat(client, uid: int, timeout: float) -> None:
    user = client.user(uid, first_name=f"员工{uid}")
    await user.send("/start")
    await user.next_message(timeout)


def _calls_made(world) -> int:
    """Bot API calls other than ``getUpdates`` the sandbox has answered so far."""
    return sum(world.call_counts.values()) - world.call_counts.get("getUpdates", 0)


async def driver_main(mode: str) -> None:
    from sandbox import SandboxClient, SandboxServer

    server = SandboxServer()
    await server.start()
    print(json.dumps({"url": server.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    play = _resident_bot if mode == "bot" else _resident_echo
    async with SandboxClient(server.base_url) as client:
        while line := await reader.readline():
            command = json.loads(line)
            if command.get("stop"):
                break
            if "start" in command:  # staff accounts: open their chats with the bot (/start), answer when done
                await asyncio.gather(*(_open_chat(client, uid, command.get("timeout", 120)) for uid in command["start"]))
                print(json.dumps({"started": len(command["start"])}), flush=True)
                continue
            first, residents, complaints = command["first_id"], command["residents"], command["complaints"]
            profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_DRIVER_PROFILE") else None
            if profiler:
                profiler.enable()
            started, cpu = time.perf_counter(), time.process_time()
            delivered, calls = server.world.updates_delivered, server.world.call_counts.get("getUpdates", 0)
            api_calls = sum(server.world.call_counts.values())
            results = await asyncio.gather(*(play(client, first + i, complaints, command.get("timeout", 120))
                                             for i in range(residents)), return_exceptions=True)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            # The staff card of the last complaints may still be on its way: the calls are counted
            # once no new one came for a moment (the seconds above are the residents' alone).
            calls_made = _calls_made(server.world)
            while True:
                await asyncio.sleep(0.3)
                if _calls_made(server.world) == calls_made:
                    break
                calls_made = _calls_made(server.world)
            if profiler:
                profiler.disable()
                profiler.dump_stats(f"{os.environ['BENCH_DRIVER_PROFILE']}.{mode}")
            errors = [f"{type(r).__name__}: {r}"[:300] for r in results if isinstance(r, BaseException)]
            print(json.dumps({"seconds": seconds, "driver_cpu": cpu, "updates": residents * complaints * STEPS,
                              "delivered": server.world.updates_delivered - delivered,
                              "polls": server.world.call_counts.get("getUpdates", 0) - calls,
                              "api_calls": sum(server.world.call_counts.values()) - api_calls, "errors": errors}),
                  flush=True)
    await server.stop()


class Driver:
    """The driver process seen from the bot's side."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process, self.url = process, url

    @classmethod
    async def start(cls, mode: str) -> Driver:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.intake_bench", "--driver", mode,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(Path(__file__).parent.parent))
        line = await process.stdout.readline()
        return cls(process, json.loads(line)["url"])

    async def play(self, *, first_id: int, residents: int, complaints: int) -> dict:
        self.process.stdin.write((json.dumps({"first_id": first_id, "residents": residents,
                                              "complaints": complaints}) + "\n").encode())
        await self.process.stdin.drain()
        result = json.loads(await self.process.stdout.readline())
        if result["errors"]:
            print(f"    ! {len(result['errors'])} residents failed, e.g. {result['errors'][0]}", flush=True)
        return result

    async def open_chats(self, uids: list[int]) -> None:
        self.process.stdin.write((json.dumps({"start": uids}) + "\n").encode())
        await self.process.stdin.drain()
        json.loads(await self.process.stdout.readline())

    async def stop(self) -> None:
        self.process.stdin.write(b'{"stop": true}\n')
        await self.process.stdin.drain()
        await self.process.wait()


# --- the bot side -----------------------------------------------------------------------------------


class SqlCounter:
    """Statements and connection checkouts, inside an update's handling and elsewhere."""

    def __init__(self, engine, update_tasks: set) -> None:
        from sqlalchemy import event

        self.update_tasks = update_tasks
        self.reset()
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine.pool, "checkout", self._checkout)
        event.listen(engine.sync_engine.pool, "connect", self._connect)
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)
        self.out = 0

    def reset(self) -> None:
        self.in_update = self.elsewhere = self.checkouts_in_update = self.checkouts_elsewhere = 0
        self.connects = 0  # new database connections opened (beyond the pool they are closed again)
        self.most_out = 0  # connections checked out at once, at most

    def _inside(self) -> bool:
        try:
            return asyncio.current_task() in self.update_tasks
        except RuntimeError:
            return False

    def _statement(self, *_args) -> None:
        if self._inside():
            self.in_update += 1
        else:
            self.elsewhere += 1

    def _connect(self, *_args) -> None:
        self.connects += 1

    def _checkin(self, *_args) -> None:
        self.out -= 1

    def _checkout(self, *_args) -> None:
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        if self._inside():
            self.checkouts_in_update += 1
        else:
            self.checkouts_elsewhere += 1


class RedisCounter:
    """Redis round trips of the bot's process (commands, and pipelines/transactions as one)."""

    def __init__(self) -> None:
        self.count = 0
        self._patched: list[tuple[type, str, object]] = []

    def install(self) -> None:
        from redis.asyncio.client import Pipeline, Redis

        for cls, name in ((Redis, "execute_command"), (Pipeline, "execute")):
            original = getattr(cls, name)
            self._patched.append((cls, name, original))

            async def counted(*args, __original=original, **kwargs):  # Pipeline buffers its own commands
                self.count += 1
                return await __original(*args, **kwargs)

            setattr(cls, name, counted)

    def remove(self) -> None:
        for cls, name, original in self._patched:
            setattr(cls, name, original)
        self._patched.clear()


class TransactionCounter:
    """BEGIN, COMMIT and ROLLBACK the bot's process sends to PostgreSQL (asyncpg sends them by the
    simple protocol, ``Connection.execute``; statements with parameters go another way)."""

    WORDS = ("BEGIN", "COMMIT", "ROLLBACK")

    def __init__(self) -> None:
        self.count = 0
        self._original = None

    def install(self) -> None:
        import asyncpg.connection

        self._original = original = asyncpg.connection.Connection.execute

        async def counted(connection, query, *args, **kwargs):
            if query.lstrip().upper().startswith(self.WORDS):
                self.count += 1
            return await original(connection, query, *args, **kwargs)

        asyncpg.connection.Connection.execute = counted

    def remove(self) -> None:
        if self._original is not None:
            import asyncpg.connection

            asyncpg.connection.Connection.execute = self._original
            self._original = None


def _track_updates(dispatcher, update_tasks: set) -> None:
    """Mark the task handling an update, so SQL can be attributed to update handling."""
    feed = dispatcher.feed_update

    async def feed_update(*args, **kwargs):
        task = asyncio.current_task()
        update_tasks.add(task)
        try:
            return await feed(*args, **kwargs)
        finally:
            update_tasks.discard(task)

    dispatcher.feed_update = feed_update


async def _fresh_postgres(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = await asyncpg.connect(user=parsed.username, password=parsed.password, host=parsed.host,
                                       port=parsed.port or 5432, database="postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()


async def _flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def _seed_staff(sessions, per_team: int) -> list[int]:
    """``per_team`` bound staff members in every team (Telegram ids from 5,000,000); their ids."""
    from sqlmodel import select

    from models.db import fresh_transaction
    from models.tables import Staff, Team

    uids: list[int] = []
    async with sessions() as session:
        teams = (await session.exec(select(Team).order_by(Team.id))).all()
        await fresh_transaction(session)  # a write transaction (SQLite: BEGIN IMMEDIATE) after the read
        for team in teams:
            for n in range(per_team):
                uid = 5_000_000 + len(uids)
                uids.append(uid)
                session.add(Staff(name=f"员工{uid}", role="staff", team_id=team.id, telegram_id=uid, chat_id=uid))
        await session.commit()
    return uids


async def bench_bot(database_url: str, redis_url: str | None, args, classifier) -> dict:
    from bot.app import HuifangApp
    from bot.loop import settle_heap
    from bot.settings import RateSettings, Settings

    driver = await Driver.start("bot")
    rates = RateSettings(private_per_second=1000, private_burst=1000, overall_per_second=100000,
                         overall_burst=10000)
    settings = Settings(bot_token=TOKEN, telegram_api_base=driver.url, database_url=database_url,
                        redis_url=redis_url, polling_timeout=5, rate=rates, report_day=0, _env_file=None,
                        db_pool_size=int(os.environ.get("BENCH_POOL", "15")))  # BENCH_POOL: try other sizes
    app = HuifangApp(settings, classifier=classifier, with_scheduler=False)
    update_tasks: set = set()
    _track_updates(app.dispatcher, update_tasks)
    counter = SqlCounter(app.engine, update_tasks)
    redis_calls = RedisCounter()
    if redis_url:
        redis_calls.install()
    transactions = TransactionCounter()
    if app.engine.dialect.name == "postgresql":
        transactions.install()
    await app.start()
    settle_heap()  # as HuifangApp.run() does once the bot is loaded
    try:
        if args.staff:
            await driver.open_chats(await _seed_staff(app.sessions, args.staff))
        await driver.play(first_id=900_000, residents=min(5, args.residents), complaints=1)  # warm-up
        await asyncio.sleep(0.2)
        counter.reset()
        redis_calls.count = transactions.count = 0
        profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU time, not waiting
        result = await _measured_run(driver, args, profiler, servers=local_servers(database_url, redis_url))
        result["redis"] = redis_calls.count
        result["transactions"] = transactions.count if transactions._original is not None else None
        result["sql_in_update"], result["sql_elsewhere"] = counter.in_update, counter.elsewhere
        result["checkouts_in_update"] = counter.checkouts_in_update
        result["checkouts_elsewhere"] = counter.checkouts_elsewhere
        result["connects"] = counter.connects
        result["most_out"] = counter.most_out
        if profiler:
            if args.profile_out:
                profiler.dump_stats(args.profile_out)
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.profile_top)
            stats.sort_stats("tottime").print_stats(args.profile_top)
            result["profile"] = out.getvalue()
    finally:
        await app.stop()
        redis_calls.remove()
        transactions.remove()
        await driver.stop()
    return result


async def bench_echo(args) -> dict:
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

    driver = await Driver.start("echo")
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(driver.url)))
    dispatcher = Dispatcher()
    button = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="ok")]])

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text, reply_markup=button)

    @dispatcher.callback_query(F.data == "ok")
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        await query.message.answer(f"pressed {query.from_user.id}")

    try:
        return await _run_on_aiogram(dispatcher, bot, driver, args)
    finally:
        await bot.session.close()
        await driver.stop()


async def _measured_run(driver, args, profiler: cProfile.Profile | None = None,
                        servers: dict[str, tuple[str, ...]] | None = None) -> dict:
    """The measured run (every resident's complaints) with this process's CPU time and the local
    ``servers``' (see ``local_servers``), inside ``args.around_measured()`` when set
    (``bench.intake_profile`` attaches its sampling profiler for this run only) and under ``profiler``
    (cProfile) when given."""
    around = getattr(args, "around_measured", None)
    servers = servers or {}
    servers_before = servers_cpu(servers)
    cpu = time.process_time()
    async with around() if around is not None else contextlib.nullcontext():
        if profiler:
            profiler.enable()
        try:
            result = await driver.play(first_id=1000, residents=args.residents, complaints=args.complaints)
        finally:
            if profiler:
                profiler.disable()
    result["cpu"] = time.process_time() - cpu
    result["servers_cpu"] = {label: spent - servers_before[label] for label, spent in servers_cpu(servers).items()}
    return result


async def _run_on_aiogram(dispatcher, bot, driver, args, *, chats: list[int] = (),
                          servers: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Poll with aiogram's own polling, open ``chats`` (/start), warm up, then time the measured run
    (CPU of this process); polling is stopped again, the bot's session and the driver are the caller's."""
    from bot.loop import settle_heap

    settle_heap()  # the same process settings as the bot's run
    polling = asyncio.create_task(dispatcher.start_polling(bot, polling_timeout=5, handle_signals=False,
                                                           close_bot_session=False))
    try:
        if chats:
            await driver.open_chats(list(chats))
        await driver.play(first_id=900_000, residents=min(5, args.residents), complaints=1)  # warm-up
        result = await _measured_run(driver, args, servers=servers)
    finally:
        await dispatcher.stop_polling()
        await asyncio.gather(polling, return_exceptions=True)
    return result


async def bench_floor(args, redis_url: str | None, staff_chat: int = 4_000_000) -> dict:
    """The conversation's floor on aiogram: the same four steps and the same Bot API calls as the bot
    (texts from the bot's catalogue, the share-phone and summary keyboards, the staff card), the
    conversation state in aiogram's own storage (Redis when given), and nothing else — no database,
    no classification, no outbox. What any bot on aiogram pays for this conversation."""
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.fsm.context import FSMContext
    from aiogram.fsm.state import State, StatesGroup
    from aiogram.fsm.storage.memory import MemoryStorage
    from aiogram.types import (CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, Message,
                               ReplyKeyboardMarkup, ReplyKeyboardRemove)

    from bot.i18n import catalogues

    text = catalogues().text

    class Steps(StatesGroup):
        location, contact, confirm = State(), State(), State()

    def t(key: str, **params) -> str:
        return text(key, locale="zh_Hans", **params)

    contact_keyboard = ReplyKeyboardMarkup(keyboard=[
        [KeyboardButton(text=t("btn_share_phone"), request_contact=True)],
        [KeyboardButton(text=t("btn_anonymous")), KeyboardButton(text=t("btn_cancel"))]], resize_keyboard=True)

    def summary_keyboard(draft: str) -> InlineKeyboardMarkup:
        def button(key: str, action: str) -> InlineKeyboardButton:
            return InlineKeyboardButton(text=t(key), callback_data=f"in:{action}:{draft}")
        return InlineKeyboardMarkup(inline_keyboard=[
            [button("btn_submit", "submit")],
            [button("btn_edit_description", "desc"), button("btn_edit_location", "loc"),
             button("btn_edit_contact", "contact")], [button("btn_cancel", "cancel")]])

    driver = await Driver.start("bot")
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        storage = RedisStorage.from_url(redis_url)
    else:
        storage = MemoryStorage()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(driver.url)),
              default=DefaultBotProperties(parse_mode="HTML"))
    dispatcher = Dispatcher(storage=storage)
    numbers = iter(range(1, 10**9))

    @dispatcher.message(Steps.location, F.text)
    async def location(message: Message, state: FSMContext) -> None:
        await state.update_data(location=message.text)
        await state.set_state(Steps.contact)
        await message.answer(t("ask_contact"), reply_markup=contact_keyboard)

    @dispatcher.message(Steps.contact, F.contact)
    async def contact(message: Message, state: FSMContext) -> None:
        data = await state.update_data(phone=message.contact.phone_number)
        await message.answer(t("contact_saved", contact=data["phone"]), reply_markup=ReplyKeyboardRemove())
        await state.set_state(Steps.confirm)
        summary = t("summary", description=data["description"], location=data["location"], contact=data["phone"],
                    photos="", category="电梯", kind="投诉", severity="一般", reason="关键词：电梯")
        await message.answer(summary, reply_markup=summary_keyboard(str(message.message_id)))

    @dispatcher.message(F.text)
    async def description(message: Message, state: FSMContext) -> None:
        await state.set_data({"description": message.text})
        await state.set_state(Steps.location)
        await message.answer(t("ask_location"))

    @dispatcher.callback_query(Steps.confirm, F.data.startswith("in:submit:"))
    async def submit(query: CallbackQuery, state: FSMContext) -> None:
        data = await state.get_data()
        await state.clear()
        number = f"TS20261204-{next(numbers):04d}"
        await query.message.edit_reply_markup(reply_markup=None)
        await query.answer(t("submitted_short"))
        await query.message.answer(t("submitted", number=number, category="电梯", severity="一般",
                                     allowance="24 小时", anonymous=""))
        if args.staff:  # the assignee's card, as the bot sends it when staff are bound
            await bot.send_message(staff_chat, f"{number}\n{data['description']}\n{data['location']}")

    try:  # the staff member's chat is opened (/start) before the run
        return await _run_on_aiogram(dispatcher, bot, driver, args, chats=[staff_chat] if args.staff else [],
                                     servers=local_servers(None, redis_url))
    finally:
        await bot.session.close()
        await storage.close()
        await driver.stop()


def _rate(result: dict) -> float:
    return result["updates"] / result["seconds"]


def _cpu_ms(result: dict) -> float:
    return 1000 * result["cpu"] / result["updates"]


async def _pair(backend: str, args, classifier) -> tuple[str | None, dict]:
    """The echo bot's run, then the bot's on a fresh database of ``backend``: (Redis URL, figures)."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="intake-bench-")
        database_url, redis_url = f"sqlite+aiosqlite:///{folder}/bench.db", None
    elif backend in ("postgres", "redis"):
        await _fresh_postgres(args.pg_url)
        database_url = args.pg_url
        redis_url = args.redis_url if backend == "redis" else None
        if redis_url:
            await _flush_redis(redis_url)
    else:
        raise SystemExit(f"unknown backend {backend!r} (sqlite, postgres, redis)")
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL", "redis": "PostgreSQL + Redis"}[backend]
    echo = await bench_echo(args)
    bot = await bench_bot(database_url, redis_url, args, classifier)
    updates = bot["updates"]
    row = {
        "backend": label, "bot/s": _rate(bot), "echo/s": _rate(echo), "ratio": _rate(bot) / _rate(echo),
        "bot cpu ms": _cpu_ms(bot), "echo cpu ms": _cpu_ms(echo),
        "sql/update": bot["sql_in_update"] / updates,
        "sql other/update": bot["sql_elsewhere"] / updates,
        "checkouts/update": bot["checkouts_in_update"] / updates,
        "redis/update": bot["redis"] / updates,
        "tx/update": None if bot["transactions"] is None else bot["transactions"] / updates,
        "connects": bot["connects"], "most out": bot["most_out"],
        "intake s": bot["seconds"] / args.complaints,  # each resident files one after the other
        # getUpdates: polls and updates handed out (repeats of unconfirmed ones included) per update
        "polls": bot["polls"] / updates, "delivered": bot["delivered"] / updates,
        # Bot API calls other than getUpdates per update (sendMessage, edits, callback answers)
        "calls": (bot["api_calls"] - bot["polls"]) / updates,
        "echo calls": (echo["api_calls"] - echo["polls"]) / echo["updates"],
        "echo polls": echo["polls"] / echo["updates"], "echo delivered": echo["delivered"] / echo["updates"],
        # the residents' side (sandbox + clients): CPU per update ("driver ms": the bot's, from budget)
        "echo driver ms": 1000 * echo["driver_cpu"] / echo["updates"],
        "updates": updates, "profile": bot.get("profile"),
        **budget(bot, goal_rate=args.goal * _rate(echo), cores=machine_cores()),
    }
    return redis_url, row


def budget(run: dict, *, goal_rate: float, cores: int) -> dict:
    """A run's CPU outside the bot per update (residents' side, local servers), the cores busy during
    it, and the bot's CPU per update at ``goal_rate`` on ``cores`` (``bot_budget_ms``)."""
    updates, servers = run["updates"], run.get("servers_cpu", {})
    driver_ms = 1000 * run["driver_cpu"] / updates
    server_ms = {f"{label} ms": 1000 * seconds / updates for label, seconds in servers.items()}
    outside = driver_ms + sum(server_ms.values())
    return {"driver ms": driver_ms, "servers": tuple(servers), **server_ms, "outside ms": outside,
            "cores": cores, "goal rate": goal_rate,
            "cores busy": (run["cpu"] + run["driver_cpu"] + sum(servers.values())) / run["seconds"],
            "budget ms": bot_budget_ms(goal_rate=goal_rate, cores=cores, outside_ms=outside)}


def _budget_line(row: dict, who: str = "bot", spent_key: str = "bot cpu ms") -> str:
    """Where the machine's cores went and what the goal leaves ``who``, on one line."""
    parts = [f"sandbox side {row['driver ms']:.2f}",
             *(f"{label} {row[f'{label} ms']:.2f}" for label in row["servers"])]
    return (f"{'':20} {who}: outside it {' + '.join(parts)} = {row['outside ms']:.2f} CPU ms/upd, "
            f"{row['cores busy']:.2f} of {row['cores']:g} cores busy | at {row['goal rate']:.0f} upd/s "
            f"(the goal's rate) it may spend {_allowance(row['budget ms'])}, it spent {row[spent_key]:.2f}")


def _allowance(allowed_ms: float) -> str:
    """What a budget leaves, in words when the rest alone does not fit."""
    return f"{allowed_ms:.2f} CPU ms/upd" if allowed_ms > 0 else "nothing (the rest alone does not fit)"


def _line(row: dict) -> str:
    """One pair's figures on one line."""
    return (f"{row['backend']:20} bot {row['bot/s']:7.1f} upd/s {row['bot cpu ms']:6.2f} CPU ms/upd | "
            f"echo {row['echo/s']:7.1f} upd/s {row['echo cpu ms']:5.2f} CPU ms/upd | "
            f"ratio {row['ratio']:.3f} | SQL/update {row['sql/update']:.2f} (+{row['sql other/update']:.2f} "
            f"delivery) | checkouts/update {row['checkouts/update']:.2f} | "
            + ("" if row["tx/update"] is None else f"BEGIN+COMMIT/ROLLBACK per update {row['tx/update']:.2f} | ")
            + "Redis round trips/update "
            f"{row['redis/update']:.2f} | "
            f"new connections {row['connects']}, at most {row['most out']} in use | "
            f"one intake ≈ {row['intake s']:.2f} s | getUpdates per update: {row['polls']:.2f} polls handing out "
            f"{row['delivered']:.2f} updates (echo {row['echo polls']:.2f}, {row['echo delivered']:.2f}) | "
            f"other Bot API calls per update {row['calls']:.2f} (echo {row['echo calls']:.2f}) | "
            f"sandbox side {row['driver ms']:.2f} CPU ms/upd (echo's {row['echo driver ms']:.2f})")


def median_row(runs: list[dict]) -> dict:
    """The figures of several pairs: each number's median; the ratio is the median of the pairs' ratios
    (each bot's run against the echo bot's just before it), not a ratio of medians."""
    if len(runs) == 1:
        return runs[0]
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(run[key] for run in runs)
    return merged


async def main(args) -> None:
    import logging

    from services.classify import get_classifier

    logging.basicConfig(level=logging.CRITICAL)
    classifier = get_classifier()
    classifier.classify("电梯坏了")  # load the dictionary before anything is timed
    total = args.residents * args.complaints * STEPS
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(f"intake bench: {args.residents} residents × {args.complaints} complaints = {total} updates "
          f"per run; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {loop} event loop "
          f"(bot and echo bot alike)", flush=True)
    rows = []
    for backend in args.backends:
        runs = []
        for _ in range(args.repeat):
            redis_url, row = await _pair(backend, args, classifier)
            print(_line(row), flush=True)
            print(_budget_line(row), flush=True)
            if row["profile"] is not None:
                print(f"--- cProfile of the bot's run on {row['backend']} ({row['updates']} updates) ---")
                print(row["profile"])
            runs.append(row)
        row = median_row(runs)
        if len(runs) > 1:
            pairs = ", ".join(f"{run['ratio']:.3f}" for run in runs)
            print(f"{row['backend']:20} median of {len(runs)} pairs: bot {row['bot/s']:7.1f} upd/s {row['bot cpu ms']:6.2f} "
                  f"CPU ms/upd | echo {row['echo/s']:7.1f} upd/s {row['echo cpu ms']:5.2f} CPU ms/upd | "
                  f"ratio {row['ratio']:.3f} (each pair: {pairs})", flush=True)
            print(_budget_line(row), flush=True)
        rows.append(row)
        if args.floor:
            floor = await bench_floor(args, redis_url)
            row["floor/s"], row["floor cpu ms"] = _rate(floor), _cpu_ms(floor)
            row["floor calls"] = (floor["api_calls"] - floor["polls"]) / floor["updates"]
            floor_row = {**budget(floor, goal_rate=row["goal rate"], cores=row["cores"]),
                         "floor cpu ms": row["floor cpu ms"]}
            print(f"{'':20} conversation floor (aiogram, the same calls, state in "
                  f"{'Redis' if redis_url else 'memory'}, no database) {row['floor/s']:7.1f} upd/s "
                  f"{row['floor cpu ms']:5.2f} CPU ms/upd | floor ÷ echo {row['floor/s'] / row['echo/s']:.3f} | "
                  f"bot ÷ floor {row['bot/s'] / row['floor/s']:.3f} | other Bot API calls per update "
                  f"{row['floor calls']:.2f}", flush=True)
            print(_budget_line(floor_row, who="floor", spent_key="floor cpu ms"), flush=True)
            # The residents' side costs more per update when the bot is slow (its loop wakes for fewer
            # events at a time): at the goal's pace it would cost about what it costs at the floor's.
            paced = floor_row["driver ms"] + sum(row[f"{label} ms"] for label in row["servers"])
            allowed = bot_budget_ms(goal_rate=row["goal rate"], cores=row["cores"], outside_ms=paced)
            print(f"{'':20} bot with the floor's sandbox side: outside it {paced:.2f} CPU ms/upd | at "
                  f"{row['goal rate']:.0f} upd/s it may spend {_allowance(allowed)}, it spent "
                  f"{row['bot cpu ms']:.2f}", flush=True)
            if floor["errors"]:
                print(f"    ! floor: {len(floor['errors'])} residents failed", flush=True)
    print("\nbackend              bot upd/s  echo upd/s  bot÷echo  CPU ms/upd bot  echo  SQL/upd  checkouts/upd")
    for row in rows:
        print(f"{row['backend']:20} {row['bot/s']:9.1f}  {row['echo/s']:10.1f}  {row['ratio']:8.3f}  "
              f"{row['bot cpu ms']:14.2f}  {row['echo cpu ms']:4.2f}  {row['sql/update']:7.2f}  "
              f"{row['checkouts/update']:13.2f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=50)
    parser.add_argument("--complaints", type=int, default=4)
    parser.add_argument("--backends", type=lambda s: [b.strip() for b in s.split(",") if b.strip()],
                        default=["sqlite", "postgres", "redis"], help="sqlite,postgres,redis (redis = PostgreSQL + Redis)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="dropped and recreated (env BENCH_POSTGRES_URL)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="flushed (env BENCH_REDIS_URL)")
    parser.add_argument("--staff", type=int, default=0,
                        help="bound staff members per team (default 0: every ticket waits in its team's queue "
                             "and nobody is pinged); with N > 0 tickets are assigned and the assignee's card is "
                             "delivered, as in a staffed deployment (the echo bot is unchanged)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs (echo bot, then bot) per backend; with more than one, also their medians: "
                             "on a shared machine one pair's ratio moves by a third from run to run")
    parser.add_argument("--floor", action="store_true",
                        help="also run the conversation's floor: an aiogram bot making the same Bot API calls "
                             "per complaint with its state in aiogram's storage and no database")
    parser.add_argument("--goal", type=float, default=GOAL,
                        help="the rate ÷ the echo bot's whose CPU budget per update is printed (default 0.3)")
    parser.add_argument("--profile", action="store_true", help="cProfile the bot's measured run")
    parser.add_argument("--profile-top", type=int, default=35)
    parser.add_argument("--profile-out", help="also write the raw cProfile stats here (pstats)")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default=None,
                        help="event loop of the bot and the echo bot (default: as `python -m bot`: asyncio's, "
                             "or HUIFANG_EVENT_LOOP's)")
    parser.add_argument("--driver", choices=["bot", "echo"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat: at least one pair")
    if args.goal <= 0:
        parser.error("--goal: a rate above 0 (0.3 = 30 % of the echo bot's)")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.driver:
        asyncio.run(driver_main(arguments.driver))  # the residents' side: the same loop for every run
    else:
        from bot.loop import run

        run(main(arguments), loop=arguments.loop)  # the bot's loop, as `python -m bot` runs it
