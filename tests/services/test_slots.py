"""Callback slot arithmetic: parsing, first prompt, distinct times of day, midnight, no slots."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.slots import earliest_in_slot, first_attempt_due, next_attempt_due, parse_slots, slot_of

SH = ZoneInfo("Asia/Shanghai")
DEFAULT = parse_slots("09:00-12:00,14:00-17:30,18:30-20:00")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


class TestParse:
    def test_default_and_order(self):
        assert [str(s) for s in parse_slots("18:30-20:00, 09:00-12:00")] == ["09:00-12:00", "18:30-20:00"]
        assert parse_slots("") == () and parse_slots("  ") == ()

    @pytest.mark.parametrize("text,match", [
        ("9-12", "HH:MM"), ("12:00-09:00", "ends before"), ("09:00-12:00,11:00-13:00", "overlap"),
        ("25:00-26:00", "invalid time"), ("22:00-01:00", "ends before"),
    ])
    def test_errors(self, text, match):
        with pytest.raises(ValueError, match=match):
            parse_slots(text)


class TestFirstAttempt:
    def test_inside_a_slot_stays(self):
        assert first_attempt_due(at(24, 10), timedelta(days=1), DEFAULT, SH) == at(25, 10)

    def test_gap_moves_to_next_slot(self):
        assert first_attempt_due(at(24, 12, 30), timedelta(days=1), DEFAULT, SH) == at(25, 14)

    def test_after_evening_goes_to_next_morning_across_midnight(self):
        assert first_attempt_due(at(24, 21), timedelta(days=1), DEFAULT, SH) == at(26, 9)
        assert first_attempt_due(at(24, 23, 59), timedelta(minutes=2), DEFAULT, SH) == at(25, 9)

    def test_end_of_slot_is_exclusive(self):
        assert first_attempt_due(at(24, 20), timedelta(0), DEFAULT, SH) == at(25, 9)
        assert slot_of(at(24, 20), DEFAULT, SH) is None and slot_of(at(24, 19, 59), DEFAULT, SH) == 2

    def test_result_keeps_the_callers_timezone(self):
        from datetime import UTC

        moment = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
        due = first_attempt_due(moment, timedelta(0), DEFAULT, SH)
        assert due.tzinfo == UTC and due.astimezone(SH) == at(24, 14)


class TestNextAttempts:
    def test_three_attempts_at_three_times_of_day(self):
        timeout = timedelta(hours=4)
        first = at(25, 10)  # morning
        second = next_attempt_due(first, timeout, DEFAULT, SH, used=[0])
        assert second == at(25, 14)  # 14:00 is exactly 4h later, afternoon
        third = next_attempt_due(second, timeout, DEFAULT, SH, used=[0, 1])
        assert third == at(25, 18, 30)  # evening
        assert {slot_of(t, DEFAULT, SH) for t in (first, second, third)} == {0, 1, 2}

    def test_used_slot_is_skipped_even_the_next_day(self):
        # sent in the afternoon at 17:00; 4h later is 21:00 → next morning; morning used → afternoon
        due = next_attempt_due(at(25, 17), timedelta(hours=4), DEFAULT, SH, used=[1, 0])
        assert due == at(26, 18, 30)

    def test_more_attempts_than_slots_reuse_slots(self):
        two = parse_slots("09:00-12:00,14:00-17:00")
        assert next_attempt_due(at(25, 14), timedelta(hours=1), two, SH, used=[0, 1]) == at(25, 15)

    def test_without_slots_exactly_timeout_apart(self):
        assert next_attempt_due(at(25, 23, 59), timedelta(seconds=3), (), SH, used=[]) == at(25, 23, 59) + timedelta(seconds=3)
        assert earliest_in_slot(at(25, 3), (), SH) == (at(25, 3), None)
