"""The intake profile puts each py-spy sample in the component its stack belongs to (counts, not speed)."""

from __future__ import annotations

import os

import pytest

from bench import intake_profile

LOOP = "<module> (bench/intake_profile.py:190);run (bot/loop.py:42);Runner.run (asyncio/runners.py:118);" \
       "BaseEventLoop._run_once (asyncio/base_events.py:1922);Handle._run (asyncio/events.py:80)"
UPDATE = (f"{LOOP};BatchPoller._after (bot/polling.py:355);BatchPoller._handle (bot/polling.py:429);"
          "Dispatcher.feed_update (aiogram/dispatcher/dispatcher.py:164);UpdateFsm.__call__ (bot/storage.py:350);"
          "DatabaseMiddleware.__call__ (bot/middlewares.py:40);Router.propagate_event (aiogram/dispatcher/router.py:172);"
          "Router._propagate_event (aiogram/dispatcher/router.py:194);"
          "TelegramEventObserver.trigger (aiogram/dispatcher/event/telegram.py:126);"
          "CallableObject.call (aiogram/dispatcher/event/handler.py:43)")
SEND = "Bot.__call__ (aiogram/client/bot.py:515);TolerantSession.make_request (bot/polling.py:191)"


class TestComponent:
    @pytest.mark.parametrize(("stack", "expected"), [
        # the resident's prompt: a Bot API call, wherever it is made from
        (f"{UPDATE};next_step (handlers/intake.py:290);{SEND}", "Bot API calls"),
        # the submit's use case, down to its SQL on the event loop's side
        (f"{UPDATE};submit (handlers/intake.py:420);file_complaint (services/filing.py:60);"
         "route (services/routing.py:97);greenlet_spawn (sqlalchemy/util/concurrency.py:209)", "filing"),
        # a statement's synchronous part, in SQLAlchemy's greenlet: no caller on the stack
        ("Session.exec (sqlmodel/orm/session.py:81);Session.execute (sqlalchemy/orm/session.py:2555)",
         "SQLAlchemy (greenlets)"),
        (f"{LOOP};DeliveryWorker._consume (bot/delivery.py:153);DeliveryWorker.deliver (bot/delivery.py:164);"
         "Renderer.render (bot/render.py:222)", "delivery worker"),
        (f"{LOOP};BatchPoller.run (bot/polling.py:360);BatchPoller._write_journal (bot/polling.py:283);"
         "RedisJournal.sync (bot/journal.py:80)", "update journal"),
        # innermost wins among the rest: the handler's own code, the routers around it, the store
        (f"{UPDATE};take_location (handlers/intake.py:190);summary_keyboard (handlers/intake.py:330)", "own code"),
        (f"{UPDATE};HandlerObject.check (aiogram/dispatcher/event/handler.py:120)", "aiogram dispatch"),
        (f"{UPDATE};take_location (handlers/intake.py:190);FSMContext.set_state (aiogram/fsm/context.py:20)",
         "conversation store"),
        (f"{LOOP};BatchPoller._after (bot/polling.py:355);BatchPoller._handle (bot/polling.py:429);"
         "Dispatcher.feed_update (aiogram/dispatcher/dispatcher.py:164);UpdateFsm.__call__ (bot/storage.py:350);"
         "RedisConversationStorage.load (bot/storage.py:285)", "conversation store"),
        # the floor's handlers are its own code; aiogram's polling loop is polling
        (f"{LOOP};Dispatcher.feed_update (aiogram/dispatcher/dispatcher.py:164);"
         "bench_floor.<locals>.location (bench/intake_bench.py:530)", "own code"),
        (f"{LOOP};Dispatcher._polling (aiogram/dispatcher/dispatcher.py:380)", "polling"),
        (f"{LOOP};_SelectorSocketTransport._read_ready (asyncio/selector_events.py:990)", "event loop and other"),
        ("", "no Python frame"),
        # another thread: not the bot's event loop
        ("_bootstrap (threading.py:995);_worker (concurrent/futures/thread.py:83)", None),
    ])
    def test_component(self, stack, expected):
        assert intake_profile.component(stack.split(";")) == expected


class TestTally:
    def test_samples_per_component_and_per_update(self):
        lines = [f"{UPDATE};next_step (handlers/intake.py:290);{SEND} 30",
                 f"{UPDATE};take_location (handlers/intake.py:190) 10",
                 "Session.commit (sqlalchemy/orm/session.py:2030) 20",
                 " 5",
                 "_bootstrap (threading.py:995);_worker (concurrent/futures/thread.py:83) 7",
                 ""]
        counts, elsewhere = intake_profile.tally(lines)
        assert dict(counts) == {"Bot API calls": 30, "own code": 10, "SQLAlchemy (greenlets)": 20,
                                "no Python frame": 5}
        assert elsewhere == 7
        ms = intake_profile.per_update(counts, rate=250, updates=20)  # a sample: 4 ms of CPU
        assert ms["Bot API calls"] == pytest.approx(30 * 4 / 20) and ms["filing"] == 0
        assert set(ms) == set(intake_profile.COMPONENTS)

    def test_the_bots_work_without_the_database_path(self):
        """The filing, the statements, the delivery and the frameless samples come off; the rest is
        given as sampled ms and as that share of the process's measured CPU."""
        ms = dict.fromkeys(intake_profile.COMPONENTS, 0.0)
        ms.update({"Bot API calls": 1.0, "own code": 0.5, "aiogram dispatch": 0.5, "filing": 0.7,
                   "SQLAlchemy (greenlets)": 1.6, "delivery worker": 0.2, "no Python frame": 0.5})
        rest, cpu = intake_profile.without_database(ms, process_cpu_ms=4.0)
        assert rest == pytest.approx(2.0)
        assert cpu == pytest.approx(4.0 * 2.0 / 5.0)
        assert intake_profile.without_database(dict.fromkeys(intake_profile.COMPONENTS, 0.0), 3.0) == (0.0, 0.0)


def _spin(rounds: int) -> int:
    total = 0
    for n in range(rounds):
        total += n % 7
    return total


class TestSampled:
    async def test_py_spy_samples_this_process_while_the_block_runs(self, tmp_path):
        """The profiler attaches to the running process (py-spy of the dev extra) and leaves once the
        measured block is over, its stacks written in the raw format ``tally`` reads."""
        output = tmp_path / "stacks.txt"
        try:
            async with intake_profile.sampled(intake_profile.py_spy_path(), output, rate=200):
                _spin(20_000_000)  # a few tenths of a second holding the interpreter lock
        except SystemExit as refused:  # no leave to trace a process here (ptrace): say so, outside CI
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(str(refused))
        lines = output.read_text().splitlines()
        assert any("_spin (" in line for line in lines)
        assert all(line.rpartition(" ")[2].isdigit() for line in lines if line)
