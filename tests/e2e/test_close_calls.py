"""A close call of the classifier is visible: the resident is told staff will check, the ping shows
both categories with one-tap buttons, and a tap is a stored correction (the classifier learns from it)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.tables import CategoryCorrection, Complaint
from tests.e2e.flows import intake, onboard

pytestmark = pytest.mark.e2e
CLOSE_CALL = "楼道的窗户玻璃碎了没人换"  # 环境管理, with 邻里纠纷 a close second


async def test_close_call_is_checked_by_staff_in_one_tap(bot_app, client, classifier):
    decision = classifier.classify(CLOSE_CALL)
    assert decision.uncertain and (decision.category.value, decision.runner_up.value) == ("环境管理", "邻里纠纷")
    cleaner = await onboard(bot_app, client, 9801, "李阿姨", "cleaning")
    desk = await onboard(bot_app, client, 9802, "陈主任", "service")
    resident = client.user(5901, first_name="赵敏", phone="13700009999")
    summary, number = await intake(resident, CLOSE_CALL)
    assert "待工作人员确认" in summary.text and "邻里纠纷" in summary.text

    ping = await cleaner.expect(number)
    assert "环境管理 / 邻里纠纷？" in ping.text
    assert ping.button_texts()[:2] == ["✓ 环境管理", "🏷 改为邻里纠纷"]
    await cleaner.press("改为邻里纠纷", ping)
    moved = await desk.expect(number)
    assert "邻里纠纷" in moved.text and "？" not in moved.text.split("\n")[2]
    async with bot_app.sessions() as session:
        ticket = (await session.exec(select(Complaint).where(Complaint.number == number))).one()
        [correction] = (await session.exec(select(CategoryCorrection))).all()
    assert (ticket.category, ticket.uncertain, ticket.team_id is not None) == ("邻里纠纷", False, True)
    assert (correction.predicted, correction.corrected) == ("环境管理", "邻里纠纷")
