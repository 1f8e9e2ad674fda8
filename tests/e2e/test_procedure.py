"""Issue 13 through the sandbox: the procedure's rules as residents and staff see them in chat.

Clocks are pinned (tests.clock); the scheduler does not run by itself: each test moves the clock
and ticks the callback worker and the deadline watch, so days pass in milliseconds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from models.tables import Complaint
from tests.clock import E2E_START, PinnedClock
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard, resolve

pytestmark = pytest.mark.e2e


async def complaint_row(app, number: str) -> Complaint:
    async with app.sessions() as session:
        return (await session.exec(select(Complaint).where(Complaint.number == number))).one()


async def tick(app) -> None:
    """One scheduler tick at the pinned time, and its notices delivered."""
    await app.worker.tick()
    await app.sla_watcher.tick()
    await app.delivery.flush()


async def handle_and_resolve(worker, number: str, result: str = "已修好") -> None:
    await worker.send(f"/accept {number}")
    await worker.expect("已接单")
    await resolve(worker, number, result)  # Ⅰ/Ⅱ: the cause is asked first


@pytest.fixture
def clock():
    return PinnedClock(E2E_START)


@pytest.fixture
async def desk(sandbox, client, sqlite_url, classifier, clock):
    settings = make_settings(sandbox, sqlite_url, callback_slots="", callback_delay="1d",
                             callback_answer_timeout="4h", close_no_callback_after="7d",
                             close_unreachable_after="15d", scheduler_tick="1h")
    async with running_app(settings, classifier, with_scheduler=False, clock=clock) as app:
        app.people = {
            "supervisor": await onboard(app, client, 9301, "王主管", "engineering", "supervisor"),
            "worker": await onboard(app, client, 9302, "张师傅", "engineering"),
            "manager": await onboard(app, client, 9303, "李经理", None, "manager"),
        }
        yield app


class TestClosingWithoutCallback:
    async def test_closes_after_seven_days_only_without_a_new_complaint_on_the_same_matter(self, desk, client, clock):
        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        first = client.user(5301, first_name="赵一", phone="13800000001")
        second = client.user(5302, first_name="钱二", phone="13800000002")
        neighbour = client.user(5303, first_name="孙三", phone="13800000003")
        held = await file_complaint(first, "电梯不动了，按钮没反应", "2栋1单元", anonymous=True)
        await worker.expect(held)
        await handle_and_resolve(worker, held)
        quiet = await file_complaint(second, "楼道的灯坏了，晚上很黑", "6栋3单元", anonymous=True)
        await worker.expect(quiet)
        await handle_and_resolve(worker, quiet)

        clock.advance(timedelta(days=2))  # the same matter again, from another resident
        again = await file_complaint(neighbour, "电梯又坏了，停在三楼不动", "2栋2单元")
        await worker.expect(again)

        clock.advance(timedelta(days=5, hours=1))  # seven days after the resolutions
        late = await file_complaint(second, "楼道的灯又坏了", "6栋3单元")  # after the seven days: not "meanwhile"
        await worker.expect(late)
        await tick(desk)
        assert (await complaint_row(desk, quiet)).status == "closed"
        assert (await complaint_row(desk, held)).status == "resolved"
        alert = await supervisor.expect("暂不关闭")
        assert held in alert.text and again in alert.text
        clock.advance(timedelta(days=1))
        await tick(desk)  # told once, still not closed
        assert (await complaint_row(desk, held)).status == "resolved"
        assert len([m for m in await supervisor.messages() if "暂不关闭" in (m.text or "")]) == 1


async def rated(desk, clock, resident, number: str, label: str):
    """A day after the resolution the prompt comes; the resident presses ``label``."""
    clock.advance(timedelta(days=1, minutes=1))
    await tick(desk)
    prompt = await resident.expect("满意度回访")
    assert number in prompt.text
    await resident.press(label, prompt)
    return prompt


class TestReview:
    async def test_rating_three_gives_the_supervisor_a_review_task_marked_reviewed_with_a_note(
            self, desk, client, clock):
        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        resident = client.user(5311, first_name="周四", phone="13800000011")
        number = await file_complaint(resident, "楼道灯坏了一个星期", "4栋2单元")
        await worker.expect(number)
        await handle_and_resolve(worker, number, "已更换灯管")
        await rated(desk, clock, resident, number, "3 一般")
        await resident.expect("复核")
        task = await supervisor.expect("请复核")
        assert number in task.text and task.button_texts() == ["✅ 已复核"]
        assert (await complaint_row(desk, number)).needs_review

        refused = await worker.callback_answer(await worker.press_data(task.message_id, task.callback_data("✅ 已复核")))
        assert refused.show_alert and "主管" in refused.text  # not the worker's task
        await supervisor.press("✅ 已复核", task)
        await supervisor.expect("复核意见")
        await supervisor.send("已电话回访，住户希望灯管换成更亮的，已安排")
        assert number in (await supervisor.expect("已记录")).text
        row = await complaint_row(desk, number)
        assert not row.needs_review and row.review_note == "已电话回访，住户希望灯管换成更亮的，已安排"
        assert row.reviewed_by_id == supervisor.staff_id and row.reviewed_at == clock.now

        again = await supervisor.callback_answer(await supervisor.press("✅ 已复核", task))
        assert again.show_alert and "没有待复核" in again.text  # done already: told so, nothing changes
        assert (await complaint_row(desk, number)).review_note.startswith("已电话回访")


class TestReopen:
    async def test_deadlines_start_again_from_the_reopen(self, desk, client, clock):
        from bot.texts import local_time
        from services.sla import SlaPolicy, deadlines

        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        resident = client.user(5321, first_name="吴五", phone="13800000021")
        number = await file_complaint(resident, "楼下水管漏水，墙面都湿了", "7栋1单元")
        await worker.expect(number)
        first = await complaint_row(desk, number)
        await handle_and_resolve(worker, number, "已紧固接头")
        clock.advance(timedelta(days=6))  # the prompt goes out a day later, answered days after the first deadlines
        await rated(desk, clock, resident, number, "问题未解决")
        reopened_at = clock.now
        alert = await worker.expect("请再次处理")
        row = await complaint_row(desk, number)
        assert row.status == "reopened" and row.sla_started_at == reopened_at
        expected = deadlines(SlaPolicy.from_settings(desk.settings), row.severity, reopened_at)
        assert (row.respond_by, row.resolve_by) == expected
        assert row.resolve_by > first.resolve_by + timedelta(days=6)
        tz = desk.settings.tz
        assert local_time(row.respond_by, tz) in alert.text and local_time(row.resolve_by, tz) in alert.text

        clock.advance(timedelta(minutes=30))
        await tick(desk)  # the old response deadline is long past: no 超时预警 for it
        assert not [m for m in await supervisor.messages() if "超时" in (m.text or "")]
        clock.set(row.respond_by + timedelta(minutes=1))
        await tick(desk)  # the new one counts
        assert number in (await supervisor.expect("超时")).text


class TestCallbackExpectation:
    async def test_the_resident_is_told_when_to_expect_the_callback(self, desk, client, clock):
        worker = desk.people["worker"]
        resident = client.user(5331, first_name="郑六", phone="13800000031")
        number = await file_complaint(resident, "3栋门口的路灯不亮了", "3栋门口")
        await worker.expect(number)
        await handle_and_resolve(worker, number, "已更换灯泡")  # Thursday 10:00, a day's delay
        told = await resident.expect("已更换灯泡")
        assert "明天上午我们会请您对处理结果进行评价" in told.text

        anonymous = client.user(5332, first_name="匿名", phone="13800000032")
        other = await file_complaint(anonymous, "5栋电梯按钮失灵", "5栋1单元", anonymous=True)
        await worker.expect(other)
        await handle_and_resolve(worker, other, "已修复按钮")
        assert "评价" not in (await anonymous.expect("已修复按钮")).text  # no callback, no promise

    async def test_the_slot_rule_decides_the_day_and_time_of_day(self, sandbox, client, sqlite_url, classifier):
        from datetime import UTC, datetime, time

        settings = make_settings(sandbox, sqlite_url, callback_slots="09:00-12:00,14:00-17:30,18:30-20:00",
                                 callback_delay="1d", scheduler_tick="1h")
        # Friday 20:30: a day later is Saturday 20:30, past the evening slot → Sunday morning
        friday = datetime.combine(datetime(2026, 11, 27).date(), time(20, 30), settings.tz).astimezone(UTC)
        clock = PinnedClock(friday - timedelta(hours=1))
        async with running_app(settings, classifier, with_scheduler=False, clock=clock) as app:
            worker = await onboard(app, client, 9311, "张师傅", "engineering")
            resident = client.user(5333, first_name="冯七", phone="13800000033")
            number = await file_complaint(resident, "9栋电梯有异响", "9栋2单元")
            await worker.expect(number)
            clock.set(friday)
            await handle_and_resolve(worker, number, "已润滑导轨")
            told = await resident.expect("已润滑导轨")
            assert "后天上午我们会请您" in told.text


class TestComplex:
    async def test_a_general_ticket_marked_complex_gets_seven_working_days_and_the_resident_is_told(
            self, desk, client, clock):
        from bot.texts import local_time
        from services.sla import SlaPolicy, deadlines

        worker = desk.people["worker"]
        resident = client.user(5341, first_name="陈八", phone="13800000041")
        number = await file_complaint(resident, "3栋门口的路灯不亮了", "3栋门口")
        await worker.expect(number)
        row = await complaint_row(desk, number)
        assert row.severity == "general"
        await worker.send(f"/accept {number}")
        card = await worker.expect("已接单")
        await worker.press("改级别", card)
        chooser = await worker.expect("级别")
        await worker.callback_answer(await worker.press("复杂问题", chooser))
        policy = SlaPolicy.from_settings(desk.settings)
        _respond, complex_by = deadlines(policy, "general", row.created_at, complex_=True)
        _respond, normal_by = deadlines(policy, "general", row.created_at)
        assert complex_by > normal_by
        told = await resident.expect("情况较复杂")
        assert number in told.text and "7 个工作日" in told.text
        assert local_time(complex_by, desk.settings.tz) in told.text
        assert (await complaint_row(desk, number)).resolve_by == complex_by
        edited = await worker.message(chooser.message_id)  # the chooser now says what was done
        assert "复杂问题" in edited.text and local_time(complex_by, desk.settings.tz) in edited.text

    async def test_only_general_tickets_offer_it(self, desk, client):
        worker = desk.people["worker"]
        resident = client.user(5342, first_name="褚九", phone="13800000042")
        number = await file_complaint(resident, "楼道灯坏了一个星期", "4栋2单元")  # Ⅱ 重要
        await worker.expect(number)
        await worker.send(f"/accept {number}")
        card = await worker.expect("已接单")
        await worker.press("改级别", card)
        chooser = await worker.expect("级别")
        assert not [b for b in chooser.button_texts() if "复杂" in b]


class TestClosingByHand:
    async def test_a_manager_closes_with_reason_and_note_and_a_bad_rating_does_not_reopen(self, desk, client, clock):
        worker, supervisor, manager = desk.people["worker"], desk.people["supervisor"], desk.people["manager"]
        resident = client.user(5351, first_name="卫十", phone="13800000051")
        number = await file_complaint(resident, "8栋电梯按钮坏了，要求物业赔偿误工损失", "8栋1单元")
        await worker.expect(number)
        await handle_and_resolve(worker, number, "已向住户说明市政施工由街道负责")

        await worker.send(f"/close {number}")  # not a manager
        assert "只有经理" in (await worker.expect("经理")).text
        await manager.send(f"/close {number}")
        chooser = await manager.expect("手动关闭")
        assert chooser.button_texts()[:2] == ["已按国家相关法律法规处理", "超出公司管理权限"]
        await manager.callback_answer(await manager.press("超出公司管理权限", chooser))
        assert "关闭说明" in (await manager.message(chooser.message_id)).text
        await manager.send("市政道路施工不属于物业管理范围，已告知住户向街道办反映")
        assert number in (await manager.expect("已手动关闭")).text
        told = await resident.expect("已由管理处关闭")
        assert "超出公司管理权限" in told.text and "街道办" in told.text
        row = await complaint_row(desk, number)
        assert (row.status, row.close_reason) == ("closed", "beyond_authority")
        assert row.close_note.startswith("市政道路施工")

        prompt = await rated(desk, clock, resident, number, "1 非常不满意")  # the callback still happens
        assert number in prompt.text
        await resident.expect("已记录")
        row = await complaint_row(desk, number)
        assert (row.status, row.close_reason) == ("closed", "beyond_authority")  # not reopened
        await resident.send(f"/status {number}")
        card = await resident.expect("街道办")
        assert "管理处关闭（超出公司管理权限）" in card.text and "1 非常不满意" in card.text
        from models.tables import CallbackRound

        async with desk.sessions() as session:
            [round_] = (await session.exec(select(CallbackRound).where(CallbackRound.complaint_id == row.id))).all()
        assert (round_.status, round_.rating) == ("answered", 1)  # the rating is recorded
        await tick(desk)
        assert not [m for m in await supervisor.messages() if "重新打开" in (m.text or "")]
        assert not [m for m in await worker.messages() if "请再次处理" in (m.text or "")]

    async def test_the_managers_card_offers_it_for_an_open_ticket(self, desk, client):
        worker, manager = desk.people["worker"], desk.people["manager"]
        resident = client.user(5352, first_name="蒋十一", phone="13800000052")
        number = await file_complaint(resident, "小区南门的道闸坏了", "小区南门")
        await worker.expect(number)
        await manager.send(f"/ticket {number}")
        card = await manager.expect(number)
        await manager.press("手动关闭", card)
        chooser = await manager.expect("手动关闭")
        await manager.callback_answer(await manager.press("已按国家相关法律法规处理", chooser))
        await manager.send("公交站牌属公交公司管理，已转告")
        await manager.expect("已手动关闭")
        await resident.expect("已由管理处关闭")
        assert "已由 李经理 手动关闭" in (await worker.expect("手动关闭")).text
        assert (await complaint_row(desk, number)).status == "closed"


class TestValidity:
    async def test_the_supervisor_marks_a_ticket_invalid_with_a_reason_and_the_resident_gets_the_explanation(
            self, desk, client):
        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        resident = client.user(5361, first_name="沈十二", phone="13800000061")
        number = await file_complaint(resident, "电梯里的广告太多了，很烦", "2栋1单元")
        await worker.expect(number)

        await worker.send(f"/invalid {number}")  # staff may not
        assert "主管" in (await worker.expect("无效")).text
        await supervisor.send(f"/ticket {number}")
        card = await supervisor.expect(number)
        assert "🚫 无效投诉" in card.button_texts() and "🔒 手动关闭" not in card.button_texts()
        await supervisor.press("无效投诉", card)
        chooser = await supervisor.expect("无效投诉的原因")
        assert chooser.button_texts()[:5] == ["非物业公司责任范围", "重复投诉", "不属于投诉", "要求不合理", "其他"]
        await supervisor.callback_answer(await supervisor.press("不属于投诉", chooser))
        assert "解释说明" in (await supervisor.message(chooser.message_id)).text
        await supervisor.send("电梯广告由业委会统一招租，收益用于公共维修，已向您说明")
        assert number in (await supervisor.expect("已将工单")).text
        told = await resident.expect("无效投诉")
        assert "不属于投诉" in told.text and "业委会" in told.text
        assert "沈" not in (await worker.expect("无效投诉")).text  # the assignee is told, no personal data
        row = await complaint_row(desk, number)
        assert (row.status, row.invalid_reason) == ("invalid", "not_complaint")
        assert row.invalid_note.startswith("电梯广告")
        await resident.send(f"/status {number}")
        card = await resident.expect(number)  # still searchable by the resident, with the explanation
        assert "无效投诉（不属于投诉）" in card.text and "业委会" in card.text


class TestCallbackRecord:
    async def test_the_record_says_who_called_and_how(self, desk, client, clock):
        worker, supervisor = desk.people["worker"], desk.people["supervisor"]
        resident = client.user(5371, first_name="韩十三", phone="13800000071")
        number = await file_complaint(resident, "6栋电梯门关不上", "6栋1单元")
        await worker.expect(number)
        await handle_and_resolve(worker, number)
        clock.advance(timedelta(days=1, minutes=1))
        await tick(desk)
        await resident.expect("满意度回访")  # attempt 1, by the bot in chat

        await supervisor.send(f"/callback {number}")
        record = await supervisor.expect("回访记录")
        assert "1. " in record.text and "方式：Telegram · 回访人：系统（机器人） · 已发送，等待回复" in record.text
        assert record.button_texts() == ["电话", "上门", "短信", "问卷"]
        await supervisor.press("电话", record)
        results = await supervisor.expect("电话回访结果")
        await supervisor.callback_answer(await supervisor.press("未接通", results))
        again = await supervisor.expect("回访记录")
        assert "2. " in again.text and "方式：电话 · 回访人：王主管 · 未接通/未回复" in again.text
        assert "未接通，已计为一次回访" in (await supervisor.message(results.message_id)).text

        await supervisor.press("上门", again)
        results = await supervisor.expect("上门回访结果")
        await supervisor.callback_answer(await supervisor.press("4 满意", results))
        final = await supervisor.expect("回访记录")
        assert "3. " in final.text and "方式：上门 · 回访人：王主管 · 评价：4 满意" in final.text
        assert "第 1 轮（已评价）" in final.text and not final.button_texts()  # the round is over
        row = await complaint_row(desk, number)
        assert (row.status, row.close_reason) == ("closed", "satisfied")

        await worker.send(f"/callback {number}")  # staff see the record, but cannot record calls
        seen = await worker.expect("回访记录")
        assert "王主管" in seen.text and not seen.button_texts()


class TestValidityFigures:
    async def test_stats_count_valid_and_invalid_apart(self, desk, client):
        worker, manager = desk.people["worker"], desk.people["manager"]
        numbers = []
        for index, (text, where) in enumerate((("1栋电梯坏了", "1栋1单元"), ("5栋电梯按钮失灵", "5栋1单元"))):
            resident = client.user(5381 + index, first_name=f"住户{index}", phone=f"1380000008{index}")
            numbers.append(await file_complaint(resident, text, where))
            await worker.expect(numbers[-1])
        await manager.send(f"/invalid {numbers[1]}")
        chooser = await manager.expect("无效投诉的原因")
        await manager.callback_answer(await manager.press("重复投诉", chooser))
        await manager.send("与 1 栋电梯报修为同一事项，已合并处理")
        await manager.expect("已将工单")
        await manager.send("/stats")
        figures = await manager.expect("有效投诉")
        assert "有效投诉 1 · 无效投诉 1" in figures.text.replace("<b>", "").replace("</b>", "")
