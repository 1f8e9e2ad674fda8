"""Every bad input gets a short explanation, and the conversation stays where it was."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.tables import Complaint, FsmRecord
from tests.e2e.flows import handled, text

pytestmark = pytest.mark.e2e


async def at_step(user, step: str) -> None:
    """Bring the user to a step of the intake."""
    await user.send("/new")
    await user.expect("请描述")
    if step == "description":
        return
    await user.send("电梯坏了，困在里面好几分钟")
    await user.expect("在哪里")
    if step == "location":
        return
    await user.send("2栋1单元")
    await user.expect("联系方式")
    if step == "contact":
        return
    await user.send("13812345678")
    await user.expect("请确认")


async def stored_state(app, user) -> str | None:
    """The conversation state saved for the user, once the bot has handled every update."""
    await handled(app, user.client)
    user_id = user.id
    async with app.sessions() as session:
        records = (await session.exec(select(FsmRecord))).all()
    return next((r.state for r in records if f":{user_id}:" in r.key), None)


async def count_complaints(app) -> int:
    async with app.sessions() as session:
        return len((await session.exec(select(Complaint))).all())


class TestDescriptionStep:
    async def test_invisible_only(self, resident, bot_app):
        await at_step(resident, "description")
        await resident.send("\u200b\u200b")  # Telegram trims spaces, but zero-width characters get through
        assert "不能为空" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:description"

    async def test_too_long(self, resident, bot_app):
        await at_step(resident, "description")
        await resident.send("漏水" * 1001)
        reply = await resident.next_message()
        assert "太长" in reply.text and "2000" in reply.text
        assert await stored_state(bot_app, resident) == "Intake:description"

    @pytest.mark.parametrize("kind", ["sticker", "voice", "document", "location"])
    async def test_non_text(self, resident, bot_app, kind):
        await at_step(resident, "description")
        await getattr(resident, f"send_{kind}")()
        assert "只能接收文字" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:description"
        await resident.send("楼上漏水到我家厨房")  # and it carries on from there
        assert "在哪里" in (await resident.next_message()).text


class TestLocationStep:
    async def test_too_short_and_non_text(self, resident, bot_app):
        await at_step(resident, "location")
        await resident.send("东")
        assert "太简略" in (await resident.next_message()).text
        await resident.send_sticker()
        assert "请用文字告诉我们位置" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:location"


class TestContactStep:
    async def test_invalid_phone(self, resident, bot_app):
        await at_step(resident, "contact")
        await resident.send("12345")
        reply = await resident.next_message()
        assert "格式不对" in reply.text and reply.reply_keyboard  # keyboard offered again
        assert await stored_state(bot_app, resident) == "Intake:contact"

    async def test_someone_elses_contact(self, resident, bot_app):
        await at_step(resident, "contact")
        await resident.send_contact(phone="13900001111", own=False)
        assert "别人的名片" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:contact"

    async def test_foreign_number_in_own_contact(self, client, bot_app):
        user = client.user(5002, first_name="Tom", phone="+14155550100")
        await at_step(user, "contact")
        await user.tap(text("btn_share_phone"))
        assert "中国大陆" in (await user.next_message()).text

    async def test_sticker_at_contact(self, resident):
        await at_step(resident, "contact")
        await resident.send_sticker()
        assert "分享我的手机号" in (await resident.next_message()).text


class TestConfirmStep:
    async def test_text_instead_of_buttons(self, resident, bot_app):
        await at_step(resident, "confirm")
        await resident.send("好的")
        assert "确认提交" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:confirm"

    async def test_button_from_an_old_draft(self, resident, bot_app):
        await at_step(resident, "confirm")
        old_summary = await resident.last_message()
        old_submit = old_summary.callback_data("确认提交")
        await at_step(resident, "confirm")  # /new drops the old draft, a new one reaches confirm
        answer = await resident.callback_answer(await resident.press_data(old_summary.message_id, old_submit))
        assert answer.show_alert and "失效" in answer.text
        assert await count_complaints(bot_app) == 0
        assert await stored_state(bot_app, resident) == "Intake:confirm"

    async def test_double_tap_submits_once(self, resident, bot_app):
        await at_step(resident, "confirm")
        summary = await resident.last_message()
        data = summary.callback_data("确认提交")
        first = await resident.press_data(summary.message_id, data)
        second = await resident.press_data(summary.message_id, data)
        answers = [await resident.callback_answer(first), await resident.callback_answer(second)]
        await resident.expect("工单号")
        assert await count_complaints(bot_app) == 1
        assert any("已经提交过" in (a.text or "") for a in answers)

    @pytest.mark.parametrize("data", ["in:submit:zzzzzzzz", "tk:TS20990101-0001", "garbage", "m:nothing"])
    async def test_forged_callback_data(self, resident, bot_app, data):
        await at_step(resident, "confirm")
        summary = await resident.last_message()
        answer = await resident.callback_answer(await resident.press_data(summary.message_id, data))
        assert answer.answered and answer.show_alert
        assert await count_complaints(bot_app) == 0
        assert await stored_state(bot_app, resident) == "Intake:confirm"


class TestCommandsAndLookups:
    async def test_unknown_command_keeps_the_step(self, resident, bot_app):
        await at_step(resident, "location")
        await resident.send("/foo")
        reply = await resident.next_message()
        assert "没有这个命令：/foo" in reply.text and "请继续告诉我们位置" in reply.text
        assert await stored_state(bot_app, resident) == "Intake:location"
        await resident.send("9栋")
        assert "联系方式" in (await resident.next_message()).text

    async def test_status_of_unknown_foreign_and_malformed_numbers(self, resident, client, bot_app):
        other = client.user(5003, first_name="邻居", phone="13900002222")
        await other.send("小区的路灯坏了好几盏")
        await other.expect("在哪里")
        await other.send("中心花园")
        await other.expect("联系方式")
        await other.tap(text("btn_share_phone"))
        await other.expect("请确认")
        await other.press("确认提交")
        receipt = await other.expect("工单号")
        foreign = receipt.text.split("工单号：")[1].split()[0]

        await resident.send(f"/status {foreign}")
        reply = await resident.next_message()
        assert "没有找到工单" in reply.text and "路灯" not in reply.text
        await resident.send("/status TS20990101-0001")
        assert "没有找到工单" in (await resident.next_message()).text
        await resident.send("/status 12345")
        assert "不是有效的工单号" in (await resident.next_message()).text
        await resident.send("/status")
        assert "请在命令后加上工单号" in (await resident.next_message()).text
        # a forged "show ticket" button for someone else's ticket
        listing_owner = await other.last_message()
        answer = await resident.callback_answer(
            await resident.press_data(listing_owner.message_id, f"tk:{foreign}")
        )
        assert "没有找到工单" in answer.text

    async def test_side_commands_keep_the_intake(self, resident, bot_app):
        await at_step(resident, "contact")
        await resident.send("/help")
        assert "请继续留下联系方式" in (await resident.next_message()).text
        await resident.send("/my")
        assert "还没有提交过" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:contact"
        await resident.send("13812345678")
        await resident.expect("请确认")

    async def test_new_during_intake_starts_over(self, resident, bot_app):
        await at_step(resident, "location")
        await resident.send("/new")
        assert "重新开始" in (await resident.next_message()).text
        assert "请描述" in (await resident.next_message()).text
        assert await stored_state(bot_app, resident) == "Intake:description"

    async def test_max_length_description_fits_the_summary(self, resident, bot_app):
        await resident.send("/new")
        await resident.expect("请描述")
        await resident.send("<楼上漏水&>" * 250)  # 2000 characters, HTML-sensitive
        await resident.expect("在哪里")
        await resident.send("楼" * 200)
        await resident.expect("联系方式")
        await resident.send("13812345678")
        summary = await resident.expect("请确认")
        assert "<楼上漏水&>" in summary.text
        await resident.press("确认提交", summary)
        await resident.expect("工单号")
        assert await count_complaints(bot_app) == 1

    async def test_idle_sticker(self, resident):
        await resident.send_sticker()
        assert "请直接用文字描述" in (await resident.next_message()).text


class TestCancel:
    @pytest.mark.parametrize("step", ["description", "location", "contact", "confirm"])
    async def test_cancel_at_any_step_saves_nothing(self, resident, bot_app, step):
        await at_step(resident, step)
        await resident.send("/cancel")
        reply = await resident.next_message()
        assert "已取消" in reply.text and reply.removes_keyboard
        assert await stored_state(bot_app, resident) is None
        assert await count_complaints(bot_app) == 0
        await resident.send("/cancel")
        assert "没有正在填写" in (await resident.next_message()).text

    async def test_cancel_button_on_contact_keyboard_and_summary(self, resident, bot_app):
        await at_step(resident, "contact")
        await resident.tap(text("btn_cancel"))
        assert "已取消" in (await resident.next_message()).text
        await at_step(resident, "confirm")
        summary = await resident.last_message()
        await resident.press("取消", summary)
        assert "已取消" in (await resident.next_message()).text
        assert (await resident.message(summary.message_id)).buttons == []
        assert await count_complaints(bot_app) == 0
