"""Durations in settings: 90s, 4h, 1d, 1h30m."""

from datetime import timedelta

import pytest

from services.durations import parse_duration


class TestParse:
    @pytest.mark.parametrize(
        "text,expected",
        [
            ("90s", timedelta(seconds=90)),
            ("30min", timedelta(minutes=30)),
            ("4h", timedelta(hours=4)),
            ("1d", timedelta(days=1)),
            ("1h30m", timedelta(minutes=90)),
            ("2", timedelta(seconds=2)),
            ("0.5s", timedelta(milliseconds=500)),
            (15, timedelta(seconds=15)),
        ],
    )
    def test_valid(self, text, expected):
        assert parse_duration(text) == expected

    @pytest.mark.parametrize("text", ["", "abc", "4x", "h4", "1h junk"])
    def test_invalid(self, text):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(text)
