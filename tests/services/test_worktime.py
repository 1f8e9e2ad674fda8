"""Working-time arithmetic: work hours, holidays and 调休, pauses, wall-clock deadlines."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

import pytest
from zoneinfo import ZoneInfo

from services import worktime
from services.worktime import (
    Allowance,
    ChinaMainlandDays,
    DayCalendar,
    WeekdayDays,
    WorkCalendar,
    due,
    elapsed,
    parse_work_hours,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
H = timedelta(hours=1)
M = timedelta(minutes=1)


def sh(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=SH)


class EveryDay:
    """Fake calendar: every day is a working day."""

    def is_working_day(self, day: date) -> bool | None:
        return True


class Counting:
    """Fake calendar that counts look-ups and delegates to weekdays."""

    def __init__(self):
        self.calls = 0

    def is_working_day(self, day: date) -> bool | None:
        self.calls += 1
        return day.weekday() < 5


class Unknown:
    """Fake calendar that knows no year at all."""

    def is_working_day(self, day: date) -> bool | None:
        return None


@pytest.fixture
def cal():
    return WorkCalendar()  # real chinesecalendar, 09:00-18:00, Asia/Shanghai


@pytest.fixture
def split():
    return WorkCalendar("09:00-12:00,13:30-18:00", days=WeekdayDays())


@pytest.fixture
def fresh_fallback_log(monkeypatch):
    monkeypatch.setattr(worktime, "_fallback_logged", set())


class TestParseWorkHours:
    def test_default(self):
        assert parse_work_hours("09:00-18:00") == ((time(9), time(18)),)

    def test_split_is_sorted_and_tolerant(self):
        assert parse_work_hours(" 13:30 - 18:00 , 9:00-12:00 ") == (
            (time(9), time(12)),
            (time(13, 30), time(18)),
        )

    def test_fullwidth_separators(self):
        assert parse_work_hours("09:00～12:00，13:30－18:00") == parse_work_hours("09:00-12:00,13:30-18:00")

    def test_touching_shifts_allowed(self):
        assert len(parse_work_hours("09:00-12:00,12:00-18:00")) == 2

    @pytest.mark.parametrize(
        "text,fragment",
        [
            ("", "empty"),
            ("   ", "empty"),
            ("9-18", "invalid time"),
            ("09:00", "invalid shift"),
            ("09:00-", "invalid shift"),
            ("09:00-12:00-13:00", "invalid shift"),
            ("09:00-18:00,", "invalid shift"),
            ("25:00-26:00", "out of range"),
            ("09:60-10:00", "out of range"),
            ("18:00-09:00", "must end after it starts"),
            ("09:00-09:00", "must end after it starts"),
            ("09:00-13:00,12:00-18:00", "overlap"),
            ("09:00-18:00,10:00-11:00", "overlap"),
            ("ab:cd-18:00", "invalid time"),
        ],
    )
    def test_invalid(self, text, fragment):
        with pytest.raises(ValueError, match=fragment):
            parse_work_hours(text)

    def test_calendar_accepts_pairs_and_validates_them(self):
        c = WorkCalendar([(time(13, 30), time(18)), (time(9), time(12))], days=WeekdayDays())
        assert c.shifts == ((time(9), time(12)), (time(13, 30), time(18)))
        assert c.day_length == timedelta(hours=7, minutes=30)
        with pytest.raises(ValueError, match="overlap"):
            WorkCalendar([(time(9), time(13)), (time(12), time(18))])
        with pytest.raises(ValueError, match="end after"):
            WorkCalendar([(time(18), time(9))])


class TestRealHolidayCalendar:
    def test_default_is_china_mainland(self, cal):
        assert isinstance(cal.days, ChinaMainlandDays)
        assert isinstance(cal.days, DayCalendar)
        assert cal.tz == SH

    @pytest.mark.parametrize(
        "day,working",
        [
            (date(2025, 3, 14), True),  # ordinary Friday
            (date(2025, 3, 15), False),  # ordinary Saturday
            (date(2025, 10, 1), False),  # National Day 2025: Oct 1-8 off
            (date(2025, 10, 8), False),
            (date(2025, 10, 9), True),
            (date(2025, 9, 28), True),  # adjusted working Sunday
            (date(2025, 10, 11), True),  # adjusted working Saturday
            (date(2026, 10, 1), False),  # National Day 2026: Oct 1-7 off
            (date(2026, 10, 7), False),
            (date(2026, 10, 8), True),
            (date(2026, 9, 20), True),  # adjusted working Sunday
            (date(2026, 10, 10), True),  # adjusted working Saturday
            (date(2026, 2, 16), False),  # Spring Festival 2026
        ],
    )
    def test_holidays_and_adjusted_days(self, cal, day, working):
        assert cal.is_working_day(day) is working

    def test_friday_1730_plus_two_working_days(self, cal):
        assert cal.add_working_days(sh(2025, 3, 14, 17, 30), 2) == sh(2025, 3, 18, 17, 30)

    def test_across_national_day_2025_into_adjusted_saturday(self, cal):
        start = sh(2025, 9, 30, 17, 30)
        assert cal.add_working_days(start, 1) == sh(2025, 10, 9, 17, 30)
        assert cal.add_working_days(start, 2) == sh(2025, 10, 10, 17, 30)
        assert cal.add_working_days(start, 3) == sh(2025, 10, 11, 17, 30)  # Saturday, 调休
        assert cal.add_working_days(start, 4) == sh(2025, 10, 13, 17, 30)  # Sunday is off again

    def test_across_national_day_2026_into_adjusted_saturday(self, cal):
        start = sh(2026, 9, 30, 17, 30)
        assert cal.add_working_days(start, 2) == sh(2026, 10, 9, 17, 30)
        assert cal.add_working_days(start, 3) == sh(2026, 10, 10, 17, 30)  # Saturday, 调休

    def test_adjusted_sunday_before_national_day(self, cal):
        assert cal.add_working_days(sh(2026, 9, 18, 17, 30), 1) == sh(2026, 9, 20, 17, 30)

    def test_between_over_national_day(self, cal):
        # Sep 30 17:30 to Oct 11 12:00 (2025): 0.5h + Oct 9 + Oct 10 + 3h on the 调休 Saturday.
        assert cal.between(sh(2025, 9, 30, 17, 30), sh(2025, 10, 11, 12)) == timedelta(hours=21, minutes=30)

    def test_unknown_year_falls_back_to_weekends_and_logs_once(self, cal, caplog, fresh_fallback_log):
        with caplog.at_level(logging.WARNING, logger="services.worktime"):
            assert cal.is_working_day(date(2099, 1, 1)) is True  # a Thursday
            assert cal.is_working_day(date(2099, 1, 3)) is False  # a Saturday
            assert cal.add_working_days(datetime(2099, 1, 2, 17, 30, tzinfo=SH), 1) == datetime(
                2099, 1, 5, 17, 30, tzinfo=SH
            )
        records = [r for r in caplog.records if "2099" in r.getMessage()]
        assert len(records) == 1
        assert "Monday-Friday" in records[0].getMessage()


class TestFakeCalendars:
    def test_unknown_calendar_logs_each_year_once(self, caplog, fresh_fallback_log):
        c = WorkCalendar(days=Unknown())
        with caplog.at_level(logging.WARNING, logger="services.worktime"):
            c.between(sh(2030, 12, 30), sh(2031, 1, 10))
            c.between(sh(2030, 12, 30), sh(2031, 1, 10))
        years = sorted(r.args[0] for r in caplog.records)
        assert years == [2030, 2031]

    def test_injected_calendar_is_used(self):
        c = WorkCalendar(days=EveryDay())
        assert c.add_working_days(sh(2025, 3, 14, 17, 30), 2) == sh(2025, 3, 16, 17, 30)

    def test_calendar_without_working_days_fails_loudly(self):
        class Never:
            def is_working_day(self, day):
                return False

        with pytest.raises(RuntimeError, match="no working day"):
            WorkCalendar(days=Never()).add(sh(2025, 1, 1), H)


class TestAddAndBetween:
    def test_inside_one_day(self, cal):
        assert cal.add(sh(2025, 3, 14, 10), 2 * H) == sh(2025, 3, 14, 12)

    def test_lands_on_end_of_shift_not_next_morning(self, cal):
        assert cal.add(sh(2025, 3, 14, 9), 9 * H) == sh(2025, 3, 14, 18)

    def test_zero_amount_is_start(self, cal):
        start = sh(2025, 3, 15, 3)  # Saturday night
        assert cal.add(start, timedelta(0)) == start

    def test_start_before_opening_and_on_weekend(self, cal):
        assert cal.add(sh(2025, 3, 14, 7), H) == sh(2025, 3, 14, 10)
        assert cal.add(sh(2025, 3, 15, 10), H) == sh(2025, 3, 17, 10)
        assert cal.add_working_days(sh(2025, 3, 15, 10), 1) == sh(2025, 3, 17, 18)

    def test_result_in_calendar_zone_and_input_zone_irrelevant(self, cal):
        start_utc = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)  # 17:30 Shanghai
        result = cal.add_working_days(start_utc, 2)
        assert result.tzinfo == SH
        assert result == sh(2025, 3, 18, 17, 30)

    def test_between_basic_and_antisymmetric(self, cal):
        a, b = sh(2025, 3, 14, 17, 30), sh(2025, 3, 18, 17, 30)
        assert cal.between(a, b) == 18 * H
        assert cal.between(b, a) == -18 * H
        assert cal.between(a, a) == timedelta(0)
        assert cal.between(sh(2025, 3, 15, 8), sh(2025, 3, 16, 20)) == timedelta(0)

    def test_between_inverts_add(self, split):
        start = sh(2025, 3, 12, 8, 17)
        for minutes in range(0, 60 * 60, 37):
            amount = timedelta(minutes=minutes)
            assert split.between(start, split.add(start, amount)) == amount

    def test_negative_inputs_rejected(self, cal):
        with pytest.raises(ValueError, match="negative"):
            cal.add(sh(2025, 3, 14), -H)
        with pytest.raises(ValueError, match="non-negative"):
            cal.add_working_days(sh(2025, 3, 14), -1)

    def test_long_span_steps_by_day(self):
        days = Counting()
        c = WorkCalendar(days=days)
        result = c.add_working_days(sh(2025, 3, 14, 17, 30), 30)
        assert result == sh(2025, 4, 25, 17, 30)
        assert days.calls <= 45  # one look-up per calendar day, cached
        assert c.between(sh(2025, 3, 14, 17, 30), result) == 30 * c.day_length


class TestSplitShifts:
    def test_add_skips_lunch(self, split):
        assert split.add(sh(2025, 3, 12, 11, 30), H) == sh(2025, 3, 12, 14)

    def test_add_ending_at_noon_stays_at_noon(self, split):
        assert split.add(sh(2025, 3, 12, 11), H) == sh(2025, 3, 12, 12)

    def test_between_excludes_lunch(self, split):
        assert split.between(sh(2025, 3, 12, 11), sh(2025, 3, 12, 14)) == timedelta(hours=1, minutes=30)

    def test_working_days_use_split_day_length(self, split):
        assert split.day_length == timedelta(hours=7, minutes=30)
        assert split.add_working_days(sh(2025, 3, 14, 17, 30), 2) == sh(2025, 3, 18, 17, 30)
        # Filed during lunch: 4.5h on Friday afternoon + 3h Monday morning, due at the end of that shift.
        assert split.add_working_days(sh(2025, 3, 14, 12, 45), 1) == sh(2025, 3, 17, 12)

    def test_next_working_instant(self, split):
        inside = sh(2025, 3, 12, 10, 15)
        assert split.next_working_instant(inside) == inside
        assert split.next_working_instant(sh(2025, 3, 12, 12)) == sh(2025, 3, 12, 13, 30)
        assert split.next_working_instant(sh(2025, 3, 12, 12, 45)) == sh(2025, 3, 12, 13, 30)
        assert split.next_working_instant(sh(2025, 3, 12, 9)) == sh(2025, 3, 12, 9)
        assert split.next_working_instant(sh(2025, 3, 14, 18)) == sh(2025, 3, 17, 9)
        assert split.is_working_instant(sh(2025, 3, 12, 13, 30))
        assert not split.is_working_instant(sh(2025, 3, 12, 12))


class TestMidnightEdges:
    def test_shift_starting_at_midnight(self):
        c = WorkCalendar("00:00-06:00", days=EveryDay())
        assert c.add(sh(2025, 3, 14, 23, 59), H) == sh(2025, 3, 15, 1)
        assert c.next_working_instant(sh(2025, 3, 14, 0)) == sh(2025, 3, 14, 0)
        assert c.between(sh(2025, 3, 14, 5), sh(2025, 3, 15, 1)) == 2 * H

    def test_shift_ending_at_2359(self):
        c = WorkCalendar("18:00-23:59", days=EveryDay())
        assert c.add(sh(2025, 3, 14, 23), 2 * H) == sh(2025, 3, 15, 19, 1)

    def test_exactly_midnight_between_days(self, cal):
        assert cal.between(sh(2025, 3, 13, 0), sh(2025, 3, 14, 0)) == 9 * H
        assert cal.add(sh(2025, 3, 14, 0), 10 * H) == sh(2025, 3, 17, 10)

    def test_year_boundary_new_year_holiday(self, cal):
        # Dec 31 2025 (Wed) 17:30 + 1 working day: Jan 1-3 2026 off, Sun Jan 4 is 调休.
        assert cal.add_working_days(sh(2025, 12, 31, 17, 30), 1) == sh(2026, 1, 4, 17, 30)


class TestDstZone:
    def test_working_hours_on_spring_forward_day_are_real_time(self):
        c = WorkCalendar("01:00-04:00", tz=BERLIN, days=EveryDay())
        day_start = datetime(2025, 3, 30, 0, tzinfo=BERLIN)
        # 01:00 CET -> 04:00 CEST is two real hours.
        assert c.between(day_start, datetime(2025, 3, 30, 23, tzinfo=BERLIN)) == 2 * H
        assert c.add(day_start, 2 * H) == datetime(2025, 3, 30, 4, tzinfo=BERLIN)
        assert c.add(day_start, 2 * H + 30 * M) == datetime(2025, 3, 31, 1, 30, tzinfo=BERLIN)

    def test_ordinary_office_hours_in_berlin(self):
        c = WorkCalendar(tz=BERLIN, days=WeekdayDays())
        # Fri 17:30 CET + 2 working days across the DST weekend: Tue 17:30 CEST.
        assert c.add_working_days(datetime(2025, 3, 28, 17, 30, tzinfo=BERLIN), 2) == datetime(
            2025, 4, 1, 17, 30, tzinfo=BERLIN
        )

    def test_wall_clock_across_spring_forward(self):
        c = WorkCalendar(tz=BERLIN, days=WeekdayDays())
        start = datetime(2025, 3, 30, 1, 30, tzinfo=BERLIN)  # CET, 00:30 UTC
        deadline = due(c, start, Allowance(amount=H, wall_clock=True))
        assert deadline == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
        assert deadline.replace(tzinfo=None) == datetime(2025, 3, 30, 3, 30)  # 02:30 does not exist

    def test_wall_clock_across_fall_back(self):
        c = WorkCalendar(tz=BERLIN, days=WeekdayDays())
        start = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN)  # first 02:30, CEST = 00:30 UTC
        deadline = due(c, start, Allowance(amount=H, wall_clock=True))
        # A fold=1 time never compares equal across zones (PEP 495): compare in UTC.
        assert deadline.astimezone(UTC) == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
        assert deadline.fold == 1 and deadline.hour == 2 and deadline.minute == 30
        assert elapsed(c, start, deadline, wall_clock=True) == H


class TestUrgentWallClock:
    def test_counts_nights_weekends_and_holidays(self, cal):
        urgent = Allowance(amount=4 * H, wall_clock=True)
        assert due(cal, sh(2025, 3, 14, 22), urgent) == sh(2025, 3, 15, 2)
        assert due(cal, sh(2025, 10, 1, 12), urgent) == sh(2025, 10, 1, 16)

    def test_wall_clock_pause(self, cal):
        urgent = Allowance(amount=4 * H, wall_clock=True)
        pauses = [(sh(2025, 3, 14, 23), sh(2025, 3, 15, 0, 30))]
        assert due(cal, sh(2025, 3, 14, 22), urgent, pauses=pauses) == sh(2025, 3, 15, 3, 30)

    def test_working_time_allowance_differs(self, cal):
        normal = Allowance(amount=4 * H)
        assert due(cal, sh(2025, 3, 14, 22), normal) == sh(2025, 3, 17, 13)


class TestAllowance:
    def test_exactly_one_of_amount_or_days(self):
        with pytest.raises(ValueError, match="exactly one"):
            Allowance()
        with pytest.raises(ValueError, match="exactly one"):
            Allowance(amount=H, working_days=1)

    def test_invalid_values(self):
        with pytest.raises(ValueError, match="negative"):
            Allowance(amount=-H)
        with pytest.raises(ValueError, match="non-negative"):
            Allowance(working_days=-1)
        with pytest.raises(ValueError, match="wall-clock"):
            Allowance(working_days=1, wall_clock=True)

    def test_working_days_allowance(self, cal):
        assert due(cal, sh(2025, 3, 14, 17, 30), Allowance(working_days=2)) == sh(2025, 3, 18, 17, 30)

    def test_severity_change_recomputes_from_start(self, cal):
        start = sh(2025, 3, 14, 17, 30)
        assert due(cal, start, Allowance(working_days=3)) == sh(2025, 3, 19, 17, 30)
        assert due(cal, start, Allowance(amount=4 * H)) == sh(2025, 3, 17, 12, 30)


class TestPauses:
    start = sh(2025, 3, 12, 10)  # Wednesday
    allowance = Allowance(amount=4 * H)  # plain deadline: 14:00 the same day

    def test_no_pause(self, cal):
        assert due(cal, self.start, self.allowance) == sh(2025, 3, 12, 14)

    def test_closed_pause_extends_by_working_time(self, cal):
        pauses = [(sh(2025, 3, 12, 11), sh(2025, 3, 12, 12, 30))]
        assert due(cal, self.start, self.allowance, pauses=pauses) == sh(2025, 3, 12, 15, 30)

    def test_pause_overnight_only_counts_working_hours(self, cal):
        # Paused 17:00 Wed to 10:00 Thu: 1h + 1h of working time stopped.
        start = sh(2025, 3, 12, 16)
        pauses = [(sh(2025, 3, 12, 17), sh(2025, 3, 13, 10))]
        assert due(cal, start, self.allowance, pauses=pauses) == sh(2025, 3, 13, 13)

    def test_pause_outside_working_hours_changes_nothing(self, cal):
        pauses = [(sh(2025, 3, 12, 19), sh(2025, 3, 13, 8))]
        assert due(cal, sh(2025, 3, 12, 16), self.allowance, pauses=pauses) == sh(2025, 3, 13, 11)

    def test_open_pause_moves_with_now(self, cal):
        pauses = [(sh(2025, 3, 12, 11), None)]
        first = due(cal, self.start, self.allowance, pauses=pauses, now=sh(2025, 3, 12, 12))
        later = due(cal, self.start, self.allowance, pauses=pauses, now=sh(2025, 3, 12, 16))
        assert first == sh(2025, 3, 12, 15)
        # 1h ran before the pause; 3h remain at 16:00: 2h today, 1h tomorrow morning.
        assert later == sh(2025, 3, 13, 10)
        # Next morning: 3h remain at resume time 09:30 -> 12:30.
        assert due(cal, self.start, self.allowance, pauses=pauses, now=sh(2025, 3, 13, 9, 30)) == sh(2025, 3, 13, 12, 30)

    def test_resume_equals_open_pause_at_resume_time(self, cal):
        resumed = [(sh(2025, 3, 12, 11), sh(2025, 3, 12, 13))]
        still_open = [(sh(2025, 3, 12, 11), None)]
        assert due(cal, self.start, self.allowance, pauses=resumed) == due(
            cal, self.start, self.allowance, pauses=still_open, now=sh(2025, 3, 12, 13)
        )

    def test_open_pause_without_now_uses_current_time(self, cal):
        long_ago = sh(2020, 1, 6, 10)
        deadline = due(cal, long_ago, Allowance(amount=H), pauses=[(sh(2020, 1, 6, 10, 30), None)])
        assert deadline > datetime.now(UTC)

    def test_now_only_read_for_open_pauses(self, cal):
        pauses = [(sh(2025, 3, 12, 11), sh(2025, 3, 12, 12))]
        assert due(cal, self.start, self.allowance, pauses=pauses, now=sh(2030, 1, 1)) == sh(2025, 3, 12, 15)

    def test_several_and_overlapping_pauses(self, cal):
        pauses = [
            (sh(2025, 3, 12, 13), sh(2025, 3, 12, 13, 30)),
            (sh(2025, 3, 12, 11), sh(2025, 3, 12, 12)),
            (sh(2025, 3, 12, 11, 30), sh(2025, 3, 12, 12, 15)),
        ]
        # Stopped 11:00-12:15 and 13:00-13:30: 1h45 added.
        assert due(cal, self.start, self.allowance, pauses=pauses) == sh(2025, 3, 12, 15, 45)

    def test_pause_after_deadline_does_not_extend(self, cal):
        pauses = [(sh(2025, 3, 12, 15), sh(2025, 3, 12, 17))]
        assert due(cal, self.start, self.allowance, pauses=pauses) == sh(2025, 3, 12, 14)

    def test_pause_starting_at_deadline_does_not_extend(self, cal):
        pauses = [(sh(2025, 3, 12, 14), None)]
        assert due(cal, self.start, self.allowance, pauses=pauses, now=sh(2025, 3, 12, 17)) == sh(2025, 3, 12, 14)

    def test_pause_before_start_is_clipped(self, cal):
        pauses = [(sh(2025, 3, 12, 9), sh(2025, 3, 12, 11))]
        assert due(cal, self.start, self.allowance, pauses=pauses) == sh(2025, 3, 12, 15)

    def test_pause_over_holiday_adds_nothing(self, cal):
        start = sh(2025, 9, 30, 17, 30)
        pauses = [(sh(2025, 10, 2, 10), sh(2025, 10, 5, 10))]
        assert due(cal, start, Allowance(working_days=2), pauses=pauses) == sh(2025, 10, 10, 17, 30)

    def test_elapsed_matches_due(self, cal):
        pauses = [(sh(2025, 3, 12, 11), sh(2025, 3, 12, 12, 30)), (sh(2025, 3, 12, 14), None)]
        now = sh(2025, 3, 13, 10)
        deadline = due(cal, self.start, self.allowance, pauses=pauses, now=now)
        # Ran 10:00-11:00 and 12:30-14:00 (2.5h); resumes at now with 1.5h left.
        assert deadline == sh(2025, 3, 13, 11, 30)
        assert elapsed(cal, self.start, deadline, pauses=[(p, e or now) for p, e in pauses]) == 4 * H
        assert elapsed(cal, self.start, sh(2025, 3, 12, 11, 45), pauses=pauses) == H
        assert elapsed(cal, self.start, sh(2025, 3, 12, 9)) == timedelta(0)

    def test_bad_pauses(self, cal):
        with pytest.raises(ValueError, match="ends before it starts"):
            due(cal, self.start, self.allowance, pauses=[(sh(2025, 3, 12, 12), sh(2025, 3, 12, 11))])
        with pytest.raises(ValueError, match="pair"):
            due(cal, self.start, self.allowance, pauses=[(sh(2025, 3, 12, 12),)])


class TestNaiveRejected:
    naive = datetime(2025, 3, 14, 10)

    def test_calendar_methods(self, cal):
        for call in (
            lambda: cal.add(self.naive, H),
            lambda: cal.add_working_days(self.naive, 1),
            lambda: cal.between(self.naive, sh(2025, 3, 14)),
            lambda: cal.between(sh(2025, 3, 14), self.naive),
            lambda: cal.next_working_instant(self.naive),
        ):
            with pytest.raises(ValueError, match="timezone-aware"):
                call()

    def test_due(self, cal):
        a = Allowance(amount=H)
        with pytest.raises(ValueError, match="timezone-aware"):
            due(cal, self.naive, a)
        with pytest.raises(ValueError, match="timezone-aware"):
            due(cal, sh(2025, 3, 14), a, pauses=[(self.naive, None)], now=sh(2025, 3, 14, 12))
        with pytest.raises(ValueError, match="timezone-aware"):
            due(cal, sh(2025, 3, 14), a, pauses=[(sh(2025, 3, 14, 10), None)], now=self.naive)
