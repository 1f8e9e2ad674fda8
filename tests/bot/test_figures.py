"""The /stats message in each language, from the hand-made month of ``tests.services.test_stats``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.figures import month_label, render_stats_text
from bot.i18n import catalogues
from services.stats import MonthStats, compare, month_bounds
from tests.services.test_stats import AFTER, SH, numbers, seed, seeded  # noqa: F401 - fixture


def in_locale(locale: str, function, *args):
    with catalogues().use_locale(locale):
        return function(*args)


class TestStatsText:
    async def test_empty_month(self, sessions):
        async with sessions() as session:
            cur, prev = await compare(session, month="2026-06", tz=SH, now=AFTER)
        text = in_locale("zh_Hans", render_stats_text, cur, prev)
        assert "工单总数</b> 0" in text and "—" in text

    async def test_simplified_chinese(self, sessions, seeded):  # noqa: F811
        async with sessions() as session:
            cur, prev = await compare(session, month="2026-10", tz=SH, team_id=seeded["team_engineering"], now=AFTER)
        text = in_locale("zh_Hans", render_stats_text, cur, prev)
        assert len(text) < 4096
        assert "2026年10月" in text and "工程&lt;部&gt;" in text and "工程<部>" not in text
        assert "回访率 83.3%（5/6）" in text
        assert "处理及时率 100.0%（5/5）" in text
        assert "满意度 3.00分（5条评价）" in text
        assert "「问题未解决」1条" in text
        assert "· 工程管理 5（上月 1）" in text
        assert numbers("T2")[0] in text
        # Only <b> tags: everything else is escaped.
        assert set(re.findall(r"</?([a-z]+)[^>]*>", text)) <= {"b"}

    async def test_english_and_traditional(self, sessions, seeded):  # noqa: F811
        async with sessions() as session:
            cur, prev = await compare(session, month="2026-10", tz=SH, now=AFTER)
        english = in_locale("en", render_stats_text, cur, prev)
        assert "Complaints, 2026-10" in english and "Against 2026-09" in english
        assert "<b>Tickets</b> 9 (last month 1, ↑8 (+800%))" in english
        assert "Callback rate 83.3% (5/6)" in english and "Satisfaction 3.00 (5 ratings)" in english
        # English labels keep the Chinese category name in brackets, nothing else is Chinese.
        assert not re.search(r"[\u4e00-\u9fff]", re.sub(r"\([^)]*\)", "", english)), english
        traditional = in_locale("zh_Hant", render_stats_text, cur, prev)
        assert "投訴統計" in traditional and "回訪率 83.3%（5/6）" in traditional

    def test_bounded(self):
        now = datetime(2026, 10, 15, tzinfo=UTC)
        start, end = month_bounds("2026-10", SH)
        many = {f"<类别{i}>" * 20: i for i in range(200)}
        big = MonthStats(month="2026-10", tz="Asia/Shanghai", team_id=None, team_name=None, start=start, end=end,
                         as_of=now, total=10**6, by_category=many, by_status={f"s{i}": 1 for i in range(200)},
                         overdue_open=99, overdue_numbers=["TS20261001-0001"] * 5)
        for locale in ("zh_Hans", "zh_Hant", "en"):
            text = in_locale(locale, render_stats_text, big, big)
            assert len(text) < 4096 and "&lt;类别0&gt;" in text

    def test_month_label(self):
        assert in_locale("zh_Hans", month_label, "2026-03") == "2026年3月"
        assert in_locale("en", month_label, "2026-03") == "2026-03"
