"""The ticket page's cause, corrective-action and handling-plan forms, through the same use cases as
the chat (services.procedure); refusals change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlmodel import col, select

from models.tables import Complaint, CorrectiveAction, HandlingPlan, OutboxNotice
from tests.web.test_desk_flow import register, ticket

LIFT = "电梯坏了三天没人修"  # Ⅱ 重要


async def test_plan_cause_and_corrective_action_from_the_ticket_page(console, people, sessions, settings):
    fixer = await people.make("张师傅", "engineering")
    boss = await people.make("王主管", "engineering", "supervisor")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await register(desk, description=LIFT)
    row = await ticket(sessions, number)
    assert row.severity == "important" and row.assignee_id == fixer.id and row.plan_by is not None

    worker = await people.login(fixer)
    page = await worker.http.get(f"/tickets/{number}")
    assert "原因分析 · 处理方案 · 整改措施" in page.text and "提交方案" in page.text and "未提交" in page.text
    assert (await worker.form(f"/tickets/{number}/plan", {"text": "明天上午维保单位到场检修"})).status_code == 303

    supervisor = await people.login(boss)
    page = await supervisor.http.get(f"/tickets/{number}")
    assert "批准方案" in page.text and "明天上午维保单位到场检修" in page.text and "待审批" in page.text
    refused = await worker.form(f"/tickets/{number}/plan/decide", {"decision": "approve"})
    assert refused.status_code == 409  # not the worker's to decide
    returned = await supervisor.form(f"/tickets/{number}/plan/decide", {"decision": "return", "reason": "缺少分工"})
    assert returned.status_code == 303
    await worker.form(f"/tickets/{number}/plan", {"text": "明天9点维保单位到场，张师傅配合，12点前完成"})
    await supervisor.form(f"/tickets/{number}/plan/decide", {"decision": "approve"})
    async with sessions() as session:
        plans = (await session.exec(select(HandlingPlan).order_by(col(HandlingPlan.id)))).all()
        kinds = [n.kind for n in (await session.exec(select(OutboxNotice).order_by(col(OutboxNotice.id)))).all()]
    assert [(p.status, p.return_reason) for p in plans] == [("returned", "缺少分工"), ("approved", None)]
    assert [k for k in kinds if k.startswith("plan_")] == ["plan_submitted", "plan_returned", "plan_submitted",
                                                          "plan_approved"]

    await worker.form(f"/tickets/{number}/accept", {})
    page = await worker.http.get(f"/tickets/{number}")
    assert 'name="cause"' in page.text and "设施设备" in page.text
    without = await worker.form(f"/tickets/{number}/resolve", {"result": "已修好"})
    assert without.status_code == 409 and "原因分析" in without.text
    no_action = await worker.form(f"/tickets/{number}/resolve", {"result": "已修好", "cause": "equipment",
                                                                "cause_text": "控制板老化"})
    assert no_action.status_code == 409 and "整改措施" in no_action.text
    assert (await ticket(sessions, number)).status == "accepted"
    done = await worker.form(f"/tickets/{number}/resolve", {
        "result": "已更换控制板", "cause": "equipment", "cause_text": "控制板老化", "action": "全小区控制板排查",
        "owner": str(fixer.id), "due": "2026-12-10"})
    assert done.status_code == 303
    row = await ticket(sessions, number)
    assert (row.status, row.cause_category, row.cause_text) == ("resolved", "equipment", "控制板老化")
    async with sessions() as session:
        [action] = (await session.exec(select(CorrectiveAction))).all()
    due = datetime.combine(datetime(2026, 12, 10).date(), time(18, 0), settings.tz).astimezone(UTC)
    assert (action.description, action.owner_id, action.due_at) == ("全小区控制板排查", fixer.id, due)

    page = await supervisor.http.get(f"/tickets/{number}")
    assert "全小区控制板排查" in page.text and f"/actions/{action.id}/done" in page.text
    finished = await supervisor.form(f"/tickets/{number}/actions/{action.id}/done", {"note": "已排查12台，更换3台"})
    assert finished.status_code == 303
    page = await worker.http.get(f"/tickets/{number}")
    assert "已排查12台，更换3台" in page.text and f"/actions/{action.id}/done" not in page.text
    async with sessions() as session:
        stored = await session.get(CorrectiveAction, action.id)
        assert (stored.status, stored.done_by_id) == ("done", boss.id)
        assert (await session.get(Complaint, row.id)).plan_status == "approved"
