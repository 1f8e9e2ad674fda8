"""Monthly figures from a small hand-built month whose answers are known (SQLite and PostgreSQL).

The month is October 2026 in Asia/Shanghai: UTC [2026-09-30 16:00, 2026-10-31 16:00).

=====  =================  ======== ========= ========== ===============================================
name   created (local)    category severity  status     what it tests
=====  =================  ======== ========= ========== ===============================================
T0     09-30 23:59        工程     general   closed     September (UTC date is 09-30 too); its callback
                                                        round is due 10-03 → an October callback (4分)
T1     10-01 00:30        工程     urgent    closed     UTC 09-30 16:30: October only in local time;
                                                        no resolve event (falls back to resolved_at); 5分
T2     10-05 10:00        工程     important reopened   late response; resolved on time, reopened twice,
                                                        re-resolved late, open past deadline; 0分 and 2分
T3     10-31 23:30        环境     general   new        last minutes of the month; deadlines after the
                                                        month end → not due
T4     10-10 10:00        安全     general   assigned   never accepted: late response, late resolution,
                                                        open past deadline
T5     10-12 09:00        环境     general   cancelled  excluded from the timeliness rates
T6     10-14 09:00        工程     general   closed     on time; 3分
T7     10-20 08:00        工程     general   resolved   on time; callback unreachable after 3 attempts
T8     10-20 09:00        安全     urgent    resolved   no deadlines; callback skipped (anonymous); major
T9     10-28 09:00        工程     general   resolved   callback due 11-01 → a November callback
T10    11-01 00:00        工程     general   new        November (the end bound is exclusive)
=====  =================  ======== ========= ========== ===============================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from models.tables import CallbackAttempt, CallbackRound, Complaint, ComplaintEvent, Resident, Staff, Team
from services.stats import (
    Rate,
    compare,
    month_bounds,
    month_stats,
    parse_month,
    previous_month,
)

SH = ZoneInfo("Asia/Shanghai")
AFTER = datetime(2026, 12, 1, tzinfo=UTC)  # "now" for a finished October


def L(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A local (Shanghai) instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def kw(term: str, weight: float, target: str) -> dict:
    return {"term": term, "weight": weight, "target": target}


ENG, ENV, SEC = "工程管理", "环境管理", "安全管理"


async def seed(session) -> dict[str, int]:
    """Insert the month of the table above; returns {name: complaint id}."""
    teams = {code: Team(code=code, name=name) for code, name in
             (("engineering", "工程<部>"), ("cleaning", "环境部"), ("security", "安全部"))}
    session.add_all(teams.values())
    await session.flush()
    staff = {
        "wang": Staff(name="王师傅", role="staff", team_id=teams["engineering"].id),
        "li": Staff(name="李师傅", role="staff", team_id=teams["engineering"].id),
        "zhao": Staff(name="赵队长", role="staff", team_id=teams["security"].id),
    }
    session.add_all(staff.values())
    resident = Resident(telegram_id=1001, chat_id=1001, name="业主")
    session.add(resident)
    await session.flush()

    def ticket(name, created, category, severity, status, *, team, who=None, location="1栋", keywords=(),
               respond_by=None, accepted=None, resolve_by=None, resolved=None, closed=None, major=False):
        number = f"TS{created.astimezone(SH):%Y%m%d}-{int(name[1:]) + 1:04d}"
        return Complaint(
            number=number, description=f"{name} 描述", location=location, resident_id=resident.id,
            team_id=teams[team].id, assignee_id=staff[who].id if who else None, category=category,
            kind="投诉", severity=severity, status=status, keywords=list(keywords), created_at=created,
            updated_at=created, respond_by=respond_by, accepted_at=accepted, resolve_by=resolve_by,
            resolved_at=resolved, closed_at=closed, major=major, contact_phone="13800000000")

    t = {
        "T0": ticket("T0", L(9, 30, 23, 59), ENG, "general", "closed", team="engineering", who="wang",
                     respond_by=L(10, 1, 1, 59), accepted=L(10, 1, 0, 30), resolve_by=L(10, 3, 23, 59),
                     resolved=L(10, 2, 10), closed=L(10, 3, 12), keywords=[kw("电梯", 9, f"category:{ENG}")]),
        "T1": ticket("T1", L(10, 1, 0, 30), ENG, "urgent", "closed", team="engineering", who="wang",
                     location="3栋2单元501", respond_by=L(10, 1, 1), accepted=L(10, 1, 0, 40),
                     resolve_by=L(10, 1, 4, 30), resolved=L(10, 1, 3, 30), closed=L(10, 2, 12),
                     keywords=[kw("电梯", 3, f"category:{ENG}"), kw("坏了", 1, f"category:{ENG}")]),
        "T2": ticket("T2", L(10, 5, 10), ENG, "important", "reopened", team="engineering", who="li",
                     location="3号楼1单元201", respond_by=L(10, 5, 12), accepted=L(10, 5, 13),
                     resolve_by=L(10, 8, 10), resolved=L(10, 9, 15),
                     keywords=[kw("电梯", 2, f"category:{ENG}"), kw("坏了", 1, f"category:{ENG}"),
                               kw("又", 5, "severity:important")]),
        "T3": ticket("T3", L(10, 31, 23, 30), ENV, "general", "new", team="cleaning", location="小区北门岗亭",
                     respond_by=L(11, 1, 1, 30), resolve_by=L(11, 3, 23, 30),
                     keywords=[kw("垃圾", 2, f"category:{ENV}"), kw("小区", 1, "context:property")]),
        "T4": ticket("T4", L(10, 10, 10), SEC, "general", "assigned", team="security", who="zhao",
                     location="12栋地下车库", respond_by=L(10, 10, 12), resolve_by=L(10, 13, 10),
                     keywords=[kw("小区", 1, "context:property")]),
        "T5": ticket("T5", L(10, 12, 9), ENV, "general", "cancelled", team="cleaning", location="地下车库B2",
                     respond_by=L(10, 12, 11), resolve_by=L(10, 15, 9)),
        "T6": ticket("T6", L(10, 14, 9), ENG, "general", "closed", team="engineering", who="wang",
                     location="5号楼", respond_by=L(10, 14, 11), accepted=L(10, 14, 10),
                     resolve_by=L(10, 17, 9), resolved=L(10, 15, 16), closed=L(10, 16, 10, 30),
                     keywords=[kw("漏水", 3, f"category:{ENG}"), kw("坏了", 0.5, f"category:{ENG}")]),
        "T7": ticket("T7", L(10, 20, 8), ENG, "general", "resolved", team="engineering", who="li",
                     location="A座1202", respond_by=L(10, 20, 10), accepted=L(10, 20, 9),
                     resolve_by=L(10, 23, 8), resolved=L(10, 21, 17),
                     keywords=[kw("电梯", 2.5, f"category:{ENG}"), kw("停运", 1, f"category:{ENG}")]),
        "T8": ticket("T8", L(10, 20, 9), SEC, "urgent", "resolved", team="security", who="zhao",
                     location="", resolved=L(10, 20, 10), major=True,
                     keywords=[kw("门禁", 2, "context:property"), kw("电梯", 5, f"category:{ENG}")]),
        "T9": ticket("T9", L(10, 28, 9), ENG, "general", "resolved", team="engineering", who="wang",
                     location="3栋2单元502", respond_by=L(10, 28, 11), accepted=L(10, 28, 10),
                     resolve_by=L(11, 2, 9), resolved=L(10, 31, 20),
                     keywords=[kw("漏水", 2, f"category:{ENG}")]),
        "T10": ticket("T10", L(11, 1, 0, 0), ENG, "general", "new", team="engineering",
                      keywords=[kw("电梯", 9, f"category:{ENG}")]),
    }
    session.add_all(t.values())
    await session.flush()
    ids = {name: c.id for name, c in t.items()}

    def event(name, at, action, to=None, frm=None):
        return ComplaintEvent(complaint_id=ids[name], at=at, actor="staff", action=action,
                              from_status=frm, to_status=to)

    events = [event(name, c.created_at, "created", "new") for name, c in t.items()]
    events += [
        event("T2", L(10, 5, 13), "accept", "accepted", "assigned"),
        event("T2", L(10, 6, 14), "resolve", "resolved", "accepted"),
        event("T2", L(10, 7, 11), "status", "reopened", "resolved"),
        event("T2", L(10, 9, 15), "resolve", "resolved", "accepted"),
        event("T2", L(10, 10, 11), "status", "reopened", "resolved"),
        event("T6", L(10, 15, 16), "resolve", "resolved", "accepted"),
        event("T7", L(10, 21, 17), "resolve", "resolved", "accepted"),
        event("T8", L(10, 20, 10), "resolve", "resolved", "accepted"),
        event("T9", L(10, 31, 20), "resolve", "resolved", "accepted"),
    ]
    session.add_all(events)

    async def round_(name, no, status, opened, dues, *, rating=None, closed=None, skip=None):
        r = CallbackRound(complaint_id=ids[name], round_no=no, status=status, opened_at=opened,
                          closed_at=closed, rating=rating, skip_reason=skip)
        session.add(r)
        await session.flush()
        for i, due in enumerate(dues, start=1):
            session.add(CallbackAttempt(round_id=r.id, complaint_id=ids[name], attempt_no=i, due_at=due,
                                        state="answered" if status == "answered" else "expired"))

    await round_("T0", 1, "answered", L(10, 2, 10), [L(10, 3, 10)], rating=4, closed=L(10, 3, 12))
    await round_("T1", 1, "answered", L(10, 1, 3, 30), [L(10, 2, 10)], rating=5, closed=L(10, 2, 12))
    await round_("T2", 1, "answered", L(10, 6, 14), [L(10, 7, 10)], rating=0, closed=L(10, 7, 11))
    await round_("T2", 2, "answered", L(10, 9, 15), [L(10, 10, 10)], rating=2, closed=L(10, 10, 11))
    await round_("T6", 1, "answered", L(10, 15, 16), [L(10, 16, 10)], rating=3, closed=L(10, 16, 10, 30))
    await round_("T7", 1, "unreachable", L(10, 21, 17), [L(10, 22, 10), L(10, 22, 19), L(10, 23, 10)],
                 closed=L(10, 23, 19))
    await round_("T8", 1, "skipped", L(10, 20, 10), [], closed=L(10, 20, 10), skip="anonymous")
    await round_("T9", 1, "open", L(10, 31, 20), [L(11, 1, 10)])
    await session.commit()
    return {**ids, **{f"team_{k}": v.id for k, v in teams.items()}}


@pytest.fixture
async def seeded(sessions):
    async with sessions() as session:
        return await seed(session)


def numbers(*names: str) -> list[str]:
    created = {"T2": "20261005", "T4": "20261010"}
    return [f"TS{created[n]}-{int(n[1:]) + 1:04d}" for n in names]


# ---------------------------------------------------------------------------------------------


def test_month_parsing_and_bounds():
    assert parse_month("2026-10") == (2026, 10)
    assert parse_month(" 2026-3 ") == (2026, 3)
    for bad in ("2026-13", "2026-00", "2026/10", "abc", "", "26-10", "2026-10-01"):
        with pytest.raises(ValueError):
            parse_month(bad)
    assert previous_month("2026-01") == "2025-12"
    start, end = month_bounds("2026-10", SH)
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC) and end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    # A DST month: New York November starts on EDT (UTC-4) and ends on EST (UTC-5).
    start, end = month_bounds("2026-11", ZoneInfo("America/New_York"))
    assert start == datetime(2026, 11, 1, 4, tzinfo=UTC) and end == datetime(2026, 12, 1, 5, tzinfo=UTC)


async def test_bad_month_raises(sessions):
    async with sessions() as session:
        with pytest.raises(ValueError):
            await month_stats(session, month="2026-13", tz=SH)


async def test_october_figures(sessions, seeded):
    async with sessions() as session:
        s = await month_stats(session, month="2026-10", tz=SH, now=AFTER)
    assert not s.partial and s.as_of == s.end
    assert s.total == 9  # T1..T9: not T0 (September), not T10 (November)
    assert s.by_category == {"安全管理": 2, "工程管理": 5, "环境管理": 2}
    assert list(s.by_category) == ["安全管理", "工程管理", "环境管理"]  # domain order
    assert s.by_severity == {"urgent": 2, "important": 1, "general": 6}
    assert s.by_status == {"new": 1, "assigned": 1, "resolved": 3, "closed": 2, "reopened": 1, "cancelled": 1}
    assert s.by_category_severity[(ENG, "general")] == 3
    assert s.by_category_severity[(SEC, "urgent")] == 1
    assert s.major == 1
    # Response: due T1 T2 T4 T6 T7 T9 (T3 not yet due at month end, T5 cancelled, T8 no deadline).
    assert s.response == Rate(4, 6)
    # Resolution on the first resolution: T2 counts on time (10-06 ≤ 10-08) despite the late re-resolve;
    # T4 is overdue and unresolved → due and late.
    assert s.resolution == Rate(5, 6)
    assert (s.reopened, s.reopen_events) == (1, 2)  # T2 reopened twice counts once
    assert s.overdue_open == 2
    assert s.overdue_numbers == numbers("T2", "T4")
    # Callbacks: rounds due in October = T0 (September ticket), T1, T2 ×2, T6, T7 (unreachable);
    # T9's first attempt is due on 11-01 (November); T8 skipped.
    assert s.callback == Rate(5, 6)
    assert (s.callback_unreachable, s.callback_open, s.callback_skipped) == (1, 0, 1)
    assert s.ratings == {0: 1, 1: 0, 2: 1, 3: 1, 4: 1, 5: 1}
    assert s.rating_count == 5
    assert s.rating_average == pytest.approx((1 + 2 + 3 + 4 + 5) / 5)  # 0 counts as 1
    assert s.satisfied == Rate(2, 5)


async def test_previous_and_next_month(sessions, seeded):
    async with sessions() as session:
        cur, prev = await compare(session, month="2026-10", tz=SH, now=AFTER)
        nov = await month_stats(session, month="2026-11", tz=SH, now=AFTER)
    assert cur.month == "2026-10" and prev.month == "2026-09"
    assert prev.total == 1 and prev.by_category == {ENG: 1}
    assert prev.response == Rate(1, 1) and prev.resolution == Rate(1, 1)
    assert prev.callback == Rate(0, 0) and prev.callback.value is None and prev.rating_average is None
    assert nov.total == 1  # T10 at exactly 00:00 local on 11-01
    assert nov.callback == Rate(0, 1) and nov.callback_open == 1  # T9's round is November's, still open


async def test_time_zone_changes_membership(sessions, seeded):
    async with sessions() as session:
        utc = await month_stats(session, month="2026-10", tz=ZoneInfo("UTC"), now=AFTER)
    # In UTC, T1 (09-30 16:30Z) is September and T10 (10-31 16:00Z) is October.
    assert utc.total == 9
    assert utc.by_severity == {"urgent": 1, "important": 1, "general": 7}


async def test_month_so_far(sessions, seeded):
    now = L(10, 11, 12)
    async with sessions() as session:
        s = await month_stats(session, month="2026-10", tz=SH, now=now)
    assert s.partial and s.as_of == now
    assert s.overdue_open == 1 and s.overdue_numbers == numbers("T2")  # T4's deadline is 10-13
    # Callback rounds due by now: T1 (10-02), T0 (10-03), T2 (10-07, 10-10): all answered.
    assert s.callback == Rate(4, 4)
    assert s.ratings == {0: 1, 1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    # T4's response deadline (10-10 12:00) has passed; T9's respond_by is not due but accepted → counted.
    assert s.response.denominator == 6


async def test_team_scope(sessions, seeded):
    async with sessions() as session:
        eng = await month_stats(session, month="2026-10", tz=SH, team_id=seeded["team_engineering"], now=AFTER)
        sec = await month_stats(session, month="2026-10", tz=SH, team_id=seeded["team_security"], now=AFTER)
    assert eng.team_name == "工程<部>"
    assert eng.total == 5 and eng.by_category == {ENG: 5}
    assert eng.response == Rate(4, 5) and eng.resolution == Rate(5, 5)  # T2 accepted late
    assert eng.callback == Rate(5, 6) and eng.overdue_open == 1
    assert sec.total == 2 and sec.major == 1
    assert sec.callback == Rate(0, 0) and sec.callback_skipped == 1
    assert sec.response == Rate(0, 1) and sec.resolution == Rate(0, 1) and sec.overdue_open == 1


async def test_empty_month(sessions):
    async with sessions() as session:
        cur, prev = await compare(session, month="2026-06", tz=SH, now=AFTER)
    assert cur.total == 0 and cur.by_category == {} and cur.response.value is None
    assert cur.rating_average is None and cur.satisfied.value is None and cur.overdue_numbers == []


async def test_valid_filter_counts_invalid_complaints_apart(sessions, seeded):
    async with sessions() as session:
        both = await month_stats(session, month="2026-10", tz=SH, now=AFTER)
        valid = await month_stats(session, month="2026-10", tz=SH, now=AFTER, valid=True)
        invalid = await month_stats(session, month="2026-10", tz=SH, now=AFTER, valid=False)
    assert (both.total, both.invalid, both.valid) == (9, 0, 9)  # no 无效投诉 in the seeded month
    assert valid.total == 9 and invalid.total == 0
