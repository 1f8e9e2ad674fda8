"""A resident reports a complaint through the real bot over the sandbox: happy path, edits, anonymous."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import select

from bot.storage import APPLIED
from models.tables import Complaint, ComplaintEvent, FsmRecord
from tests.e2e.flows import file_complaint, handled, text

pytestmark = pytest.mark.e2e

TICKET = re.compile(r"TS\d{8}-\d{4}")


async def complaints(app) -> list[Complaint]:
    async with app.sessions() as session:
        return list((await session.exec(select(Complaint).order_by(Complaint.id))).all())


class TestStart:
    async def test_greeting_menu_and_commands(self, resident, client):
        await resident.send("/start")
        greeting = await resident.next_message()
        assert "您好，王芳" in greeting.text
        assert greeting.button_texts() == ["📝 投诉报事", "📋 我的投诉", "❓ 帮助"]
        calls = await client.calls("setMyCommands")
        registered = calls[-1]["params"]["commands"]
        registered = json.loads(registered) if isinstance(registered, str) else registered
        commands = [c["command"] for c in registered]
        assert commands == ["start", "new", "my", "status", "add", "lang", "cancel", "help"]

    async def test_help_lists_commands(self, resident):
        await resident.send("/help")
        help_text = await resident.next_message()
        for command in ("/new", "/my", "/status", "/cancel", "/help"):
            assert command in help_text.text

    async def test_menu_button_starts_intake(self, resident):
        await resident.send("/start")
        await resident.next_message()
        await resident.press("投诉报事")
        assert "请描述" in (await resident.next_message()).text


class TestHappyPath:
    async def test_full_intake_gives_a_ticket(self, resident, bot_app):
        await resident.send("/new")
        await resident.expect("请描述")
        await resident.send("3栋1单元电梯坏了两天，一直没人修，老人上下楼很困难")
        location_prompt = await resident.next_message()
        assert "在哪里" in location_prompt.text
        await resident.send("3栋1单元")
        contact_prompt = await resident.next_message()
        assert "联系方式" in contact_prompt.text
        assert await resident.keyboard() == [["📱 分享我的手机号"], ["🙈 匿名反映", "❌ 取消"]]
        await resident.tap(text("btn_share_phone"))
        saved = await resident.next_message()
        assert "13812345678" in saved.text and saved.removes_keyboard
        summary = await resident.next_message()
        assert "请确认" in summary.text
        assert "3栋1单元电梯坏了两天" in summary.text
        assert "自动分类：工程管理" in summary.text
        assert summary.button_texts()[0] == "✅ 确认提交"

        await resident.press("确认提交", summary)
        receipt = await resident.next_message()
        number = TICKET.search(receipt.text).group(0)
        assert "响应" in receipt.text and "处理完毕" in receipt.text
        assert (await resident.message(summary.message_id)).buttons == []  # no second submit

        await handled(bot_app, resident.client)  # the receipt goes out before the update's conversation is saved
        [stored] = await complaints(bot_app)
        assert stored.number == number
        assert (stored.category, stored.status, stored.location) == ("工程管理", "new", "3栋1单元")
        assert (stored.contact_phone, stored.contact_name, stored.anonymous) == ("13812345678", "王芳", False)
        async with bot_app.sessions() as session:
            records = (await session.exec(select(FsmRecord))).all()
            # Nothing half-saved: no state, no draft, only the ids of the updates already applied.
            assert [(r.state, set(r.data)) for r in records] in ([], [(None, {APPLIED})])
            events = (await session.exec(select(ComplaintEvent))).all()
        assert [e.action for e in events] == ["created", "queue"]  # no staff yet: waits for someone to assign it

    async def test_idle_text_starts_an_intake_with_it(self, resident, bot_app):
        await resident.send("楼道里的垃圾三天没人清理，味道很大")
        assert "在哪里" in (await resident.next_message()).text
        await resident.send("5栋2单元 楼道")
        await resident.expect("联系方式")
        await resident.send("李女士 0755-12345678")
        await resident.expect("请确认")
        await resident.press("确认提交")
        await resident.expect("工单号")
        [stored] = await complaints(bot_app)
        assert stored.description == "楼道里的垃圾三天没人清理，味道很大"
        assert (stored.contact_name, stored.contact_phone) == ("李女士", "0755-12345678")
        assert stored.category == "环境管理"

    async def test_photos_are_kept_and_caption_is_the_description(self, resident, bot_app):
        await resident.send("/new")
        await resident.expect("请描述")
        await resident.send_photo()
        assert "请再用文字" in (await resident.next_message()).text
        await resident.send_photo(caption="地下车库顶棚漏水，车上全是水")
        await resident.expect("在哪里")
        await resident.send_photo()  # one more while at the location step
        assert "共3张" in (await resident.next_message()).text
        await resident.send("地下车库B区")
        await resident.expect("联系方式")
        await resident.tap(text("btn_share_phone"))
        summary = await resident.expect("请确认")
        assert "照片：3张" in summary.text
        await resident.press("确认提交", summary)
        await resident.expect("工单号")
        [stored] = await complaints(bot_app)
        assert len(stored.photos) == 3 and stored.description.startswith("地下车库顶棚漏水")

    async def test_edit_from_summary_returns_to_summary(self, resident, bot_app):
        await resident.send("小区门禁坏了，陌生人随便进出")
        await resident.expect("在哪里")
        await resident.send("北门")
        await resident.expect("联系方式")
        await resident.tap(text("btn_share_phone"))
        first = await resident.expect("请确认")
        await resident.press("改位置", first)
        await resident.expect("在哪里")
        await resident.send("南门岗亭")
        second = await resident.expect("请确认")
        assert "南门岗亭" in second.text
        assert (await resident.message(first.message_id)).buttons == []  # the old summary is retired
        await resident.press("确认提交", second)
        await resident.expect("工单号")
        [stored] = await complaints(bot_app)
        assert stored.location == "南门岗亭"

    async def test_last_location_is_offered_again(self, resident, bot_app):
        await file_complaint(resident, "电梯按钮失灵了", location="8栋3单元")
        await resident.send("8栋的路灯不亮了")
        prompt = await resident.expect("在哪里")
        assert prompt.button_texts() == ["📍 8栋3单元"]
        await resident.press("8栋3单元", prompt)
        await resident.expect("联系方式")
        await resident.tap(text("btn_share_phone"))
        await resident.expect("请确认")
        await resident.press("确认提交")
        await resident.expect("工单号")
        assert [c.location for c in await complaints(bot_app)] == ["8栋3单元", "8栋3单元"]


class TestAnonymous:
    async def test_anonymous_complaint_keeps_no_contact(self, resident, bot_app):
        await resident.send("有人在小区里高空抛物，很危险")
        await resident.expect("在哪里")
        await resident.send("6栋楼下")
        await resident.expect("联系方式")
        await resident.tap(text("btn_anonymous"))
        assert "匿名" in (await resident.next_message()).text
        summary = await resident.expect("请确认")
        assert "匿名（无法回访）" in summary.text
        await resident.press("确认提交", summary)
        receipt = await resident.expect("工单号")
        assert "不会回访" in receipt.text
        [stored] = await complaints(bot_app)
        assert stored.anonymous and stored.contact_phone is None and stored.contact_name is None


class TestMyTickets:
    async def test_my_and_status(self, resident, client, bot_app):
        await resident.send("/my")
        assert "还没有提交过" in (await resident.next_message()).text
        first = await file_complaint(resident, "电梯坏了")
        second = await file_complaint(resident, "垃圾桶满了没人清")
        await resident.send("/my")
        listing = await resident.next_message()
        assert "共2件" in listing.text and first in listing.text and second in listing.text
        assert listing.text.index(second) < listing.text.index(first)  # newest first
        assert "已受理" in listing.text
        await resident.press(first, listing)
        card = await resident.next_message()
        assert first in card.text and "电梯坏了" in card.text and "提交并受理" in card.text
        await resident.send(f"/status {second.lower()}")
        assert "垃圾桶满了" in (await resident.next_message()).text
