"""Issue 13 (part B) through the sandbox: major complaints' owner and deadlines, the reply to the
residents, linked tickets settled together, early warnings, and the monthly report reviewed in chat.

The clock is pinned (tests.clock): each test moves it and ticks the deadline watch itself.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlmodel import select

from models.tables import Complaint, EarlyWarning, ReportRun, Staff
from scheduler.reports import MonthlyReport
from services import handling
from tests.clock import E2E_START, PinnedClock
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard, resolve

pytestmark = pytest.mark.e2e

SAME_MATTER = ["3栋的电梯又坏了，一直没人修", "3栋电梯坏了好几天了没人修", "3栋的电梯坏了没人来修"]


async def rows(app, numbers: list[str]) -> list[Complaint]:
    async with app.sessions() as session:
        found = {c.number: c for c in (await session.exec(select(Complaint).where(
            Complaint.number.in_(numbers)))).all()}
    return [found[n] for n in numbers]


async def tick(app) -> None:
    await app.sla_watcher.tick()
    await app.delivery.flush()


@pytest.fixture
def clock():
    return PinnedClock(E2E_START)  # Thursday 26 Nov 2026, 10:00 in Shanghai


@pytest.fixture
async def desk(sandbox, client, sqlite_url, classifier, clock):
    settings = make_settings(sandbox, sqlite_url, callback_slots="", callback_delay="1d", scheduler_tick="1h")
    async with running_app(settings, classifier, with_scheduler=False, clock=clock) as app:
        app.people = {
            "worker": await onboard(app, client, 9401, "张师傅", "engineering"),
            "manager": await onboard(app, client, 9402, "李经理", None, "manager"),
            "deputy": await onboard(app, client, 9403, "周经理", None, "manager"),
        }
        yield app


async def same_matter(app, client) -> tuple[list, list[str]]:
    residents = [client.user(5400 + i, first_name=f"住户{i}", phone=f"1370000{i:04d}") for i in range(3)]
    numbers = []
    for i, (resident, text) in enumerate(zip(residents, SAME_MATTER, strict=True)):
        numbers.append(await file_complaint(resident, text, location=f"3栋{i + 1}单元"))
        await app.people["worker"].expect(numbers[-1])
    await app.delivery.flush()
    return residents, numbers


class TestOwnerAndDeadlines:
    async def test_major_gets_the_first_manager_as_owner_and_a_missed_reply_is_escalated(self, desk, client, clock):
        manager, deputy = desk.people["manager"], desk.people["deputy"]
        residents, numbers = await same_matter(desk, client)
        charge = await manager.expect("您是负责人", timeout=15)
        assert all(n in charge.text for n in numbers)
        assert "11-30 10:00" in charge.text  # 2 working days from Thursday 10:00: Monday 10:00
        tickets = await rows(desk, numbers)
        assert {c.major_owner_id for c in tickets} == {manager.staff_id}
        assert tickets[0].major_resolve_by == clock() + timedelta(days=10)
        assert not [m for m in await deputy.messages() if "您是负责人" in (m.text or "")]

        clock.set(datetime(2026, 11, 30, 1, 59, tzinfo=E2E_START.tzinfo))  # Monday 09:59: not yet
        await tick(desk)
        assert not [m for m in await manager.messages() if "未在" in (m.text or "")]
        clock.advance(timedelta(minutes=2))
        await tick(desk)
        late = await deputy.expect("答复住户", timeout=15)
        assert numbers[0] in late.text and "李经理" in late.text
        assert numbers[0] in (await manager.expect("答复住户", timeout=15)).text
        await tick(desk)  # once per ticket
        assert len([m for m in await deputy.messages() if "前答复住户" in (m.text or "")]) == 3

        await manager.send(f"/reply {numbers[1]} 电梯主板已订货，周三前修好，给您带来不便深表歉意")
        done = await manager.expect("已答复 3 位住户")
        assert all(n in done.text for n in numbers)
        await desk.delivery.flush()
        for resident, number in zip(residents, numbers, strict=True):
            reply = await resident.expect("客服经理答复", timeout=15)
            assert number in reply.text and "周三前修好" in reply.text
        assert all(c.major_replied_at == clock() for c in await rows(desk, numbers))

    async def test_a_missed_resolution_is_escalated(self, desk, client, clock):
        _, numbers = await same_matter(desk, client)
        clock.advance(timedelta(days=10, minutes=1))
        await tick(desk)
        overdue = await desk.people["deputy"].expect("前解决", timeout=15)
        assert numbers[0] in overdue.text and "李经理" in overdue.text
        assert all(c.major_resolve_level == 1 for c in await rows(desk, numbers))

    async def test_stats_show_the_new_figures(self, desk, client):
        manager = desk.people["manager"]
        await same_matter(desk, client)
        await manager.send("/stats")
        figures = await manager.expect("有效投诉按类型")
        assert "投诉 3" in figures.text and "Telegram 3" in figures.text and "重开率" in figures.text
        assert "重大投诉 3 件" in figures.text and "负责人 李经理" in figures.text

    async def test_reply_is_for_managers_and_majors_only(self, desk, client):
        worker, manager = desk.people["worker"], desk.people["manager"]
        resident = client.user(5450, first_name="钱二", phone="13800000002")
        number = await file_complaint(resident, "楼道的灯坏了，晚上很黑", "6栋3单元")
        await worker.expect(number)
        await worker.send(f"/reply {number} 好的")
        await worker.expect("没有这个命令")
        await manager.send(f"/reply {number} 好的")
        assert "不是重大投诉" in (await manager.expect("不是重大投诉")).text


class TestLinkedTickets:
    async def test_resolving_the_major_resolves_its_linked_tickets_and_tells_each_resident(self, desk, client):
        worker = desk.people["worker"]
        residents, numbers = await same_matter(desk, client)
        await worker.send(f"/accept {numbers[0]}")
        await worker.expect("已接单")
        await resolve(worker, numbers[0], "已更换电梯主板，恢复运行")  # with its cause when it is Ⅰ/Ⅱ
        await desk.delivery.flush()
        for resident, number in zip(residents, numbers, strict=True):
            message = await resident.expect("已更换电梯主板", timeout=15)
            assert number in message.text
        assert [c.status for c in await rows(desk, numbers)] == ["resolved"] * 3

    async def test_closing_the_major_by_hand_closes_its_linked_tickets(self, desk, client, clock):
        residents, numbers = await same_matter(desk, client)
        async with desk.sessions() as session:
            manager = await session.get(Staff, desk.people["manager"].staff_id)
            first = (await rows(desk, numbers))[0]
            await handling.close_by_hand(session, first.id, manager, "lawful", "已按法规处理", now=clock())
        await desk.delivery.flush()
        for resident in residents:
            assert "已按法规处理" in (await resident.expect("已按法规处理", timeout=15)).text
        assert [c.status for c in await rows(desk, numbers)] == ["closed"] * 3


class TestEarlyWarning:
    async def test_manager_writes_a_warning_in_chat_and_the_other_managers_hear_of_it(self, desk, client):
        manager, deputy = desk.people["manager"], desk.people["deputy"]
        await manager.send("/warn 3栋电梯本周多次停运 | 已联系厂家，周三前更换主板 | 楼长、业委会")
        await manager.expect("投诉预警已记录")
        await desk.delivery.flush()
        told = await deputy.expect("投诉预警", timeout=15)
        assert "3栋电梯本周多次停运" in told.text and "业委会" in told.text
        async with desk.sessions() as session:
            [warning] = (await session.exec(select(EarlyWarning))).all()
        assert (warning.matter, warning.notified, warning.author_id) == (
            "3栋电梯本周多次停运", "楼长、业委会", manager.staff_id)
        await manager.send("/warn 只有事项")
        await manager.expect("用法")


class TestReportReview:
    async def test_draft_reviewed_in_chat_then_sent_to_the_recipients(self, desk, client, clock):
        manager, deputy = desk.people["manager"], desk.people["deputy"]
        resident = client.user(5460, first_name="孙三", phone="13800000003")
        await file_complaint(resident, "5栋的水管漏水了", "5栋")
        clock.set(datetime.combine(datetime(2026, 12, 1).date(), time(9, 30), desk.settings.tz))
        job = MonthlyReport(desk.sessions, day=1, at=time(9, 0), tz=desk.settings.tz, clock=clock)  # REPORT_REVIEW on
        assert await job.tick() == "2026-11"
        await desk.delivery.flush()
        draft = await manager.expect("草稿", timeout=60)
        assert draft.has_button("批准发送") and draft.has_button("填写分析")
        assert (await manager.next_message(timeout=60)).kind == "document"  # the draft workbook to read
        assert not [m for m in await deputy.messages() if "报告已批准" in (m.text or "")]
        async with desk.sessions() as session:
            run = await session.get(ReportRun, "2026-11")
        assert (run.status, run.sent_at) == ("draft", None)

        await manager.press("填写分析", draft)
        await manager.expect("原因分析与整改措施")
        await manager.send("原因：电梯老化。整改：12月完成主板更换。")
        saved = await manager.expect("已保存")
        await manager.press("批准发送", saved)
        await manager.expect("已批准")
        await desk.delivery.flush()
        for person in (manager, deputy):
            sent = await person.expect("请查收", timeout=60)  # the report itself, as before the review
            assert "2026-11" in sent.text
            assert (await person.next_message(timeout=60)).kind == "document"
        async with desk.sessions() as session:
            run = await session.get(ReportRun, "2026-11", populate_existing=True)
        assert (run.status, run.summary, run.approved_by_id, run.recipients) == (
            "sent", "原因：电梯老化。整改：12月完成主板更换。", manager.staff_id, 2)
        assert await job.tick() is None  # once per month
