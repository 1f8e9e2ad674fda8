"""The intake bench's conversation floor stays the bot's conversation: the same steps, the same Bot API
calls per complaint (otherwise bot ÷ floor would compare different work). Counts, not speed."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest

from bench import intake_bench


class TestConversationFloor:
    # the resident's seven calls per complaint (three prompts, the contact's echo, the summary, the
    # button's answer and edit, the receipt), and with bound staff the assignee's card
    @pytest.mark.parametrize(("staff", "calls_per_complaint"), [(0, 7), (1, 8)])
    async def test_the_floor_makes_the_bots_calls_per_complaint(self, tmp_path, classifier, staff,
                                                                calls_per_complaint):
        args = intake_bench.parse_args(["--residents", "2", "--complaints", "2", "--staff", str(staff)])
        measured = []  # what bench.intake_profile hooks on: the measured run, once per bot

        @contextlib.asynccontextmanager
        async def around_measured():
            measured.append("in")
            yield
            measured.append("out")

        args.around_measured = around_measured
        floor = await intake_bench.bench_floor(args, redis_url=None)
        bot = await intake_bench.bench_bot(f"sqlite+aiosqlite:///{tmp_path}/bench.db", None, args,
                                           classifier=classifier)

        assert floor["errors"] == [] and bot["errors"] == []  # every resident got every prompt and a receipt
        assert floor["updates"] == bot["updates"] == 2 * 2 * intake_bench.STEPS
        calls = {name: run["api_calls"] - run["polls"] for name, run in (("floor", floor), ("bot", bot))}
        assert calls == {"floor": 4 * calls_per_complaint, "bot": 4 * calls_per_complaint}
        assert measured == ["in", "out", "in", "out"]
        assert floor["servers_cpu"] == bot["servers_cpu"] == {}  # SQLite and memory: no server to count


class TestRepeatedPairs:
    @staticmethod
    def pair(bot: float, echo: float, **more) -> dict:
        return {"backend": "PostgreSQL + Redis", "bot/s": bot, "echo/s": echo, "ratio": bot / echo,
                "tx/update": None, "profile": None, **more}

    def test_the_ratio_is_the_median_of_the_pairs_ratios(self):
        runs = [self.pair(100, 500), self.pair(90, 900), self.pair(120, 600)]  # ratios 0.2, 0.1, 0.2
        row = intake_bench.median_row(runs)
        assert row["ratio"] == 0.2  # not median(bot) ÷ median(echo) = 100 ÷ 600
        assert (row["bot/s"], row["echo/s"]) == (100, 600)
        assert (row["backend"], row["tx/update"], row["profile"]) == ("PostgreSQL + Redis", None, None)

    def test_one_pair_is_its_own_figures(self):
        only = self.pair(100, 500, connects=3)
        assert intake_bench.median_row([only]) is only

    def test_repeat_defaults_to_one_pair(self):
        assert intake_bench.parse_args([]).repeat == 1
        assert intake_bench.parse_args(["--repeat", "3"]).repeat == 3

    def test_no_pair_at_all_is_refused_with_a_message(self, capsys):
        with pytest.raises(SystemExit):
            intake_bench.parse_args(["--repeat", "0"])
        assert "--repeat: at least one pair" in capsys.readouterr().err


class TestMachineBudget:
    @staticmethod
    def process(name: str, user: float, system: float = 0.0, children: float = 0.0):
        times = SimpleNamespace(user=user, system=system, children_user=children, children_system=0.0)
        return SimpleNamespace(info={"name": name, "cpu_times": times})

    @pytest.mark.parametrize(("url", "here"), [
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/bench", True),
        ("redis://localhost:6379/9", True),
        ("postgresql+asyncpg://postgres@/bench?host=/var/run/postgresql", True),  # a Unix socket
        ("postgresql+asyncpg://postgres@db.internal:5432/huifang", False),
        ("sqlite+aiosqlite:///tmp/bench.db", False),  # in the bot's own process: its CPU is the bot's
        (None, False),
    ])
    def test_only_servers_on_this_machine_share_its_cores(self, url, here):
        assert intake_bench.on_this_machine(url) is here

    def test_the_runs_servers_are_named_by_their_processes(self):
        servers = intake_bench.local_servers("postgresql+asyncpg://postgres@127.0.0.1/bench", "redis://10.0.0.7/1")
        assert servers == {"PostgreSQL": ("postgres", "postmaster")}
        assert intake_bench.local_servers("sqlite+aiosqlite:///x.db", None) == {}

    def test_a_servers_cpu_counts_its_ended_children(self):
        processes = [self.process("postgres", 1.0, 0.5, children=3.0),  # the postmaster: ended backends
                     self.process("postgres", 0.25), self.process("redis-server", 2.0, 1.0),
                     self.process("python", 50.0),  # the bot itself: not a server
                     SimpleNamespace(info={"name": "postgres", "cpu_times": None})]  # denied: skipped
        seconds = intake_bench.servers_cpu(intake_bench.SERVER_PROCESSES, processes)
        assert seconds == {"PostgreSQL": 4.75, "Redis": 3.0}
        assert intake_bench.servers_cpu({}, processes) == {}

    def test_the_bot_has_one_core_at_most(self):
        # 100 updates/s on 4 cores with 1 ms outside: the machine would leave 39 ms, one core 10
        assert intake_bench.bot_budget_ms(goal_rate=100, cores=4, outside_ms=1) == 10

    def test_what_the_rest_leaves_on_a_shared_machine(self):
        # 250 updates/s on 2 cores: 8 ms per update in all, 5 of them outside the bot
        assert intake_bench.bot_budget_ms(goal_rate=250, cores=2, outside_ms=5) == pytest.approx(3)
        assert intake_bench.bot_budget_ms(goal_rate=250, cores=2, outside_ms=9) < 0  # does not fit at all

    def test_a_runs_budget_from_its_measured_cpu(self):
        run = {"updates": 800, "seconds": 8.0, "cpu": 6.4, "driver_cpu": 2.0,
               "servers_cpu": {"PostgreSQL": 2.4, "Redis": 0.08}}
        figures = intake_bench.budget(run, goal_rate=250, cores=2)
        assert figures["servers"] == ("PostgreSQL", "Redis")
        assert (figures["PostgreSQL ms"], figures["Redis ms"]) == (pytest.approx(3.0), pytest.approx(0.1))
        assert figures["driver ms"] == pytest.approx(2.5)
        assert figures["outside ms"] == pytest.approx(2.5 + 3.0 + 0.1)
        assert figures["cores busy"] == pytest.approx((6.4 + 2.0 + 2.48) / 8.0)
        assert figures["budget ms"] == pytest.approx(8 - 5.6)

    def test_a_budget_that_does_not_fit_reads_nothing(self):
        # the budget line and the floor-paced line say it the same way
        assert intake_bench._allowance(2.5) == "2.50 CPU ms/upd"
        assert intake_bench._allowance(0.0) == intake_bench._allowance(-1.2) == "nothing (the rest alone does not fit)"

    def test_the_goal_is_a_rate_above_zero(self, capsys):
        assert intake_bench.parse_args([]).goal == 0.3
        assert intake_bench.parse_args(["--goal", "0.5"]).goal == 0.5
        with pytest.raises(SystemExit):
            intake_bench.parse_args(["--goal", "0"])
        assert "--goal: a rate above 0" in capsys.readouterr().err
