"""The intake bench's conversation floor stays the bot's conversation: the same steps, the same Bot API
calls per complaint (otherwise bot ÷ floor would compare different work). Counts, not speed."""

from __future__ import annotations

import contextlib

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
