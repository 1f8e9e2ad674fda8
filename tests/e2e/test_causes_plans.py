"""Issue 13 (cause, corrective action, handling plan) through the sandbox, as staff see it in chat.

The clock is pinned (tests.clock) and the scheduler does not run by itself: each test moves the
clock and ticks the deadline watch, so days pass in milliseconds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from models.tables import Complaint, CorrectiveAction, HandlingPlan
from tests.clock import E2E_START, PinnedClock
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard

pytestmark = pytest.mark.e2e

IMPORTANT = "电梯坏了三天没人修"  # Ⅱ 重要: a cause and a plan are required


async def complaint_row(app, number: str) -> Complaint:
    async with app.sessions() as session:
        return (await session.exec(select(Complaint).where(Complaint.number == number))).one()


async def actions(app) -> list[CorrectiveAction]:
    async with app.sessions() as session:
        return list((await session.exec(select(CorrectiveAction).order_by(CorrectiveAction.id))).all())


async def tick(app) -> None:
    """One deadline watch at the pinned time, and its notices delivered."""
    await app.sla_watcher.tick()
    await app.delivery.flush()


def texts(messages, needle: str) -> list[str]:
    return [m.text for m in messages if needle in (m.text or "")]


@pytest.fixture
def clock():
    return PinnedClock(E2E_START)


@pytest.fixture
async def desk(sandbox, client, sqlite_url, classifier, clock):
    settings = make_settings(sandbox, sqlite_url, callback_slots="", scheduler_tick="1h")
    async with running_app(settings, classifier, with_scheduler=False, clock=clock) as app:
        app.people = {
            "supervisor": await onboard(app, client, 9401, "王主管", "engineering", "supervisor"),
            "worker": await onboard(app, client, 9402, "张师傅", "engineering"),
            "manager": await onboard(app, client, 9403, "李经理", None, "manager"),
        }
        yield app


async def accepted(desk, client, user_id: int, location: str) -> str:
    worker = desk.people["worker"]
    resident = client.user(user_id, first_name="住户", phone=f"1380000{user_id:04d}")
    number = await file_complaint(resident, IMPORTANT, location)
    ping = await worker.expect(number)
    assert "📝 提交处理方案" in ping.button_texts()  # a Ⅱ ticket needs a plan
    assert "处理方案：未提交，期限" in ping.text
    await worker.send(f"/accept {number}")
    await worker.expect("已接单")
    return number


class TestCauseAndCorrectiveAction:
    async def test_resolve_refused_without_cause_then_cause_and_action_reminder_and_overdue_escalation(
            self, desk, client, clock):
        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        number = await accepted(desk, client, 5401, "3栋1单元")

        await worker.send(f"/resolve {number} 已更换电梯控制板")
        question = await worker.expect("原因分析")
        assert number in question.text
        assert question.button_texts() == ["设施设备", "员工行为", "流程管理", "第三方", "住户方"]
        assert (await complaint_row(desk, number)).status == "accepted"  # not resolved without a cause

        await worker.press("设施设备", question)
        assert "请简要说明原因" in (await worker.wait_edit(question)).text
        await worker.send("电梯控制板老化，维保未及时更换")
        await worker.expect("整改措施")
        await worker.send("全小区电梯控制板排查，老化的统一更换")
        owners = await worker.expect("整改负责人")
        assert owners.button_texts()[0] == "我自己"
        await worker.press("我自己", owners)
        due = await worker.wait_edit(owners)
        assert "完成期限" in due.text and due.button_texts() == ["3天内", "7天内", "14天内", "30天内"]
        resolved_at = clock.now
        await worker.press("7天内", due)
        done = await worker.expect("已办结")
        assert "设施设备" in done.text and "全小区电梯控制板排查" in done.text

        row = await complaint_row(desk, number)
        assert (row.status, row.cause_category, row.cause_text) == ("resolved", "equipment", "电梯控制板老化，维保未及时更换")
        [action] = await actions(desk)
        assert (action.owner_id, action.due_at, action.status) == (worker.staff_id, resolved_at + timedelta(days=7), "open")

        clock.set(action.due_at - timedelta(days=1, minutes=-1))  # the day before the due date
        await tick(desk)
        reminder = await worker.expect("整改提醒")
        assert number in reminder.text and reminder.button_texts() == ["✅ 整改已完成"]
        assert not texts(await supervisor.messages(), "整改超期")

        clock.set(action.due_at + timedelta(minutes=1))
        await tick(desk)
        overdue = await supervisor.expect("整改超期")
        assert number in overdue.text and "张师傅" in overdue.text
        await tick(desk)  # once
        assert len(texts(await supervisor.messages(), "整改超期")) == 1

        await worker.press("整改已完成", reminder)
        await worker.expect("已完成的情况")
        await worker.send("12台电梯控制板已检查，更换3台")
        assert number in (await worker.expect("已记录")).text
        [action] = await actions(desk)
        assert (action.status, action.done_note, action.done_at) == ("done", "12台电梯控制板已检查，更换3台", clock.now)
        await worker.send("/actions")
        await worker.expect("没有未完成的整改措施")

    async def test_a_cause_not_ours_needs_no_corrective_action(self, desk, client):
        worker = desk.people["worker"]
        number = await accepted(desk, client, 5402, "3栋2单元")
        await worker.send(f"/resolve {number} 已协调住户让出通道")
        await worker.press("住户方", await worker.expect("原因分析"))
        await worker.send("住户装修材料堵住电梯门")
        done = await worker.expect("已办结")
        assert "住户方" in done.text
        assert (await complaint_row(desk, number)).status == "resolved" and await actions(desk) == []
        await worker.send("/help")
        help_text = (await worker.expect("工作人员帮助")).text
        assert "/plan" in help_text and "/actions" in help_text and "/reply" in help_text and "/web" in help_text


class TestHandlingPlan:
    async def test_plan_returned_escalates_past_its_deadline_then_resubmitted_and_approved(self, desk, client, clock):
        worker, supervisor, manager = desk.people["worker"], desk.people["supervisor"], desk.people["manager"]
        number = await accepted(desk, client, 5411, "4栋1单元")
        card = [m for m in await worker.messages() if number in (m.text or "") and m.button_texts()][-1]
        await worker.press("提交处理方案", card)
        await worker.expect("处理方案")
        await worker.send("今天联系维保单位检修电梯")
        assert number in (await worker.expect("已提交")).text

        pending = await supervisor.expect("处理方案待审批")
        assert number in pending.text and "今天联系维保单位检修电梯" in pending.text
        assert pending.button_texts() == ["✅ 批准方案", "↩️ 退回方案"]
        refused = await worker.callback_answer(await worker.press_data(pending.message_id, pending.callback_data("批准")))
        assert refused.show_alert and "主管" in refused.text  # not the worker's to approve
        await supervisor.press("退回方案", pending)
        await supervisor.expect("退回")
        await supervisor.send("缺少时间节点和责任分工")
        assert number in (await supervisor.expect("已退回")).text
        returned = await worker.expect("被 王主管 退回")
        assert "缺少时间节点和责任分工" in returned.text

        row = await complaint_row(desk, number)
        assert row.plan_status == "returned"
        clock.set(row.plan_by - timedelta(minutes=1))
        await tick(desk)
        assert not texts(await supervisor.messages(), "方案超时")
        clock.set(row.plan_by + timedelta(minutes=1))
        await tick(desk)  # a returned plan past its deadline escalates like a missed response
        alert = await supervisor.expect("方案超时预警")
        assert number in alert.text and "被退回" in alert.text

        await worker.send(f"/plan {number} 今天17点前维保单位到场，张师傅配合，明天上午复查")
        await worker.expect("已提交")
        assert "17点前" in (await supervisor.expect("处理方案待审批")).text
        await supervisor.send(f"/ticket {number}")  # the supervisor's card offers the decision too
        card = await supervisor.expect(number)
        assert "✅ 批准方案" in card.button_texts() and "↩️ 退回方案" in card.button_texts()
        await supervisor.press("批准方案", card)
        assert number in (await supervisor.expect("已批准")).text
        assert "批准" in (await worker.expect("已由 王主管 批准")).text
        async with desk.sessions() as session:
            plans = (await session.exec(select(HandlingPlan).order_by(HandlingPlan.id))).all()
        assert [(p.status, p.return_reason) for p in plans] == [("returned", "缺少时间节点和责任分工"), ("approved", None)]

        clock.set(row.plan_by + (row.plan_by - row.created_at) + timedelta(hours=1))
        await tick(desk)  # approved: no second-level escalation
        assert not texts(await manager.messages(), "方案超时")

    async def test_a_missing_plan_goes_to_the_supervisor_then_the_manager(self, desk, client, clock):
        supervisor, manager = desk.people["supervisor"], desk.people["manager"]
        number = await accepted(desk, client, 5412, "4栋2单元")
        row = await complaint_row(desk, number)
        assert row.plan_by is not None and row.respond_by < row.plan_by < row.resolve_by
        clock.set(row.plan_by + timedelta(minutes=1))
        await tick(desk)
        warning = await supervisor.expect("方案超时预警")
        assert number in warning.text and "张师傅" in warning.text
        clock.set(row.plan_by + (row.plan_by - row.created_at) + timedelta(minutes=1))
        await tick(desk)
        assert number in (await manager.expect("方案超时升级")).text
        await tick(desk)
        assert len(texts(await supervisor.messages(), "方案超时预警")) == 1
        assert len(texts(await manager.messages(), "方案超时升级")) == 1
