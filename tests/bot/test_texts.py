"""Formatting helpers render in the person's language from the catalogues."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.i18n import catalogues
from bot.texts import allowance, duration, rating_label, severity_label, status_label
from services.worktime import Allowance
from services.sla import SeverityRule


def in_locale(locale: str, function, *args):
    with catalogues().use_locale(locale):
        return function(*args)


class TestDuration:
    @pytest.mark.parametrize("delta,hans,hant,en", [
        (timedelta(minutes=30), "30分钟", "30分鐘", "30 minutes"), (timedelta(hours=4), "4小时", "4小時", "4 hours"),
        (timedelta(hours=72), "3天", "3天", "3 days"), (timedelta(seconds=5), "5秒", "5秒", "5 seconds"),
    ])
    def test_in_each_language(self, delta, hans, hant, en):
        assert in_locale("zh_Hans", duration, delta) == hans
        assert in_locale("zh_Hant", duration, delta) == hant
        assert in_locale("en", duration, delta) == en


class TestLabels:
    def test_codes_become_words(self):
        assert in_locale("zh_Hans", status_label, "resolved") == "已处理待回访"
        assert in_locale("zh_Hant", status_label, "resolved") == "已處理待回訪"
        assert in_locale("en", severity_label, "urgent").startswith("Ⅰ")
        assert in_locale("zh_Hans", rating_label, 0) == "问题未解决"
        assert in_locale("zh_Hans", rating_label, 5) == "5 非常满意"

    def test_the_promise_to_the_resident(self):
        rule = SeverityRule(Allowance(amount=timedelta(hours=4)), Allowance(working_days=5))
        assert in_locale("zh_Hans", allowance, rule) == "我们将在4小时（工作时间）内响应，5个工作日内处理完毕。"
        assert "5 working days" in in_locale("en", allowance, rule)
