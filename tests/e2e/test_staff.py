"""Staff through the sandbox: onboarding, routing, pings, accept → note → resolve, transfer,
category correction, permissions, blocked staff."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models.tables import CategoryCorrection, Complaint, ComplaintEvent, Staff
from services import staff as staff_service
from tests.e2e.flows import file_complaint, onboard

pytestmark = pytest.mark.e2e


async def ticket(app, number: str) -> Complaint:
    async with app.sessions() as session:
        return (await session.exec(select(Complaint).where(Complaint.number == number))).one()


async def routed(app, number: str, timeout: float = 10) -> Complaint:
    """The ticket once routing has run (the receipt goes out before the pings)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        complaint = await ticket(app, number)
        if complaint.team_id is not None or asyncio.get_running_loop().time() > deadline:
            return complaint
        await asyncio.sleep(0.05)


async def events(app, number: str) -> list[ComplaintEvent]:
    complaint = await ticket(app, number)
    async with app.sessions() as session:
        statement = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
        return list((await session.exec(statement)).all())


@pytest.fixture
async def crew(bot_app, client):
    """An engineering team (supervisor + two workers), a cleaner, customer service, HR, an admin."""
    return {
        "supervisor": await onboard(bot_app, client, 9001, "王主管", "engineering", "supervisor"),
        "zhang": await onboard(bot_app, client, 9002, "张师傅", "engineering"),
        "li": await onboard(bot_app, client, 9003, "李师傅", "engineering"),
        "cleaner": await onboard(bot_app, client, 9004, "赵阿姨", "cleaning"),
        "service": await onboard(bot_app, client, 9005, "钱客服", "service"),
        "hr": await onboard(bot_app, client, 9006, "孙人事", "hr"),
        "admin": await onboard(bot_app, client, 9007, "周管理", None, "admin"),
    }


class TestOnboarding:
    async def test_link_binds_once(self, bot_app, client):
        async with bot_app.sessions() as session:
            await staff_service.seed_teams(session)
            _, code = await staff_service.create_invite(session, name="张师傅", team_code="engineering")
        worker = client.user(9100, first_name="张")
        await worker.send(f"/start {code}")
        welcome = await worker.next_message()
        assert "张师傅" in welcome.text and "工程部处理人员" in welcome.text
        scoped = [c for c in await client.calls("setMyCommands") if "scope" in c["params"]]
        assert scoped, "staff get their own command menu"
        stranger = client.user(9101, first_name="路人")
        await stranger.send(f"/start {code}")
        assert "已经用过" in (await stranger.next_message()).text
        async with bot_app.sessions() as session:
            bound = (await session.exec(select(Staff).where(Staff.name == "张师傅"))).one()
        assert bound.telegram_id == 9100

    async def test_expired_and_garbage_codes(self, bot_app, client):
        from datetime import timedelta

        async with bot_app.sessions() as session:
            await staff_service.seed_teams(session)
            _, code = await staff_service.create_invite(session, name="过期", team_code="cleaning", ttl=timedelta(seconds=-1),
                                                        now=bot_app.clock())
        user = client.user(9102, first_name="x")
        await user.send(f"/start {code}")
        assert "已过期" in (await user.next_message()).text
        await user.send("/start abc")
        assert "无效" in (await user.next_message()).text
        await user.send("/start " + "A" * 30)
        assert "无效" in (await user.next_message()).text

    async def test_admin_invites_from_chat(self, bot_app, client, crew):
        await crew["admin"].send("/invite 吴师傅 security")
        reply = await crew["admin"].next_message()
        assert "吴师傅" in reply.text and "安全部" in reply.text
        link = reply.text.split()[-1]
        assert link.startswith("https://t.me/huifang_bot?start=")
        newcomer = client.user(9103, first_name="吴")
        await newcomer.send("/start " + link.split("start=")[1])
        assert "安全部处理人员" in (await newcomer.next_message()).text
        await crew["admin"].send("/invite 吴师傅 nowhere")
        assert "未知的班组" in (await crew["admin"].next_message()).text

    async def test_staff_start_shows_their_role(self, crew):
        await crew["supervisor"].send("/start")
        assert "工程部主管" in (await crew["supervisor"].next_message()).text

    async def test_invite_refused_to_others(self, crew, resident):
        await crew["zhang"].send("/invite 某人 engineering")
        assert "只有管理员" in (await crew["zhang"].next_message()).text
        await resident.send("/invite 某人 engineering")
        assert "没有这个命令" in (await resident.next_message()).text


class TestHandlingFlow:
    async def test_complaint_reaches_the_least_loaded_worker_and_is_handled(self, bot_app, crew, resident):
        number = await file_complaint(resident, "3栋1单元电梯坏了，按钮没反应")
        stored = await routed(bot_app, number)
        holder_key = "zhang" if stored.assignee_id == crew["zhang"].staff_id else "li"
        holder = crew[holder_key]
        ping = await holder.expect(number)
        assert "新工单派给您" in ping.text and "工程管理" in ping.text and "电梯" in ping.text
        assert "138****5678" in ping.text and "13812345678" not in ping.text
        assert "3栋1单元" in ping.text and "期限" in ping.text
        assert ping.button_texts() == ["✅ 接单", "🔀 转派", "🏷 改分类", "⚖️ 改级别"]

        # the next complaint goes to the other worker (fewest open tickets)
        second = await file_complaint(resident, "5栋的水管漏水了，地面全湿")
        other = crew["li" if holder_key == "zhang" else "zhang"]
        await other.expect(second)

        await holder.press("接单", ping)
        assert "13812345678" in (await holder.expect("已接单")).text
        assert "工程部" in (await resident.expect("受理")).text
        assert (await holder.message(ping.message_id)).button_texts() == ["✔️ 办结", "🔀 转派", "🏷 改分类", "⚖️ 改级别", "🔕 不便回访", "⏸ 等待住户"]

        await holder.send(f"/note {number} 已联系电梯公司，下午来修")
        assert "已记录" in (await holder.next_message()).text
        assert "下午来修" in (await resident.expect("处理进展")).text

        await resident.send(f"/add {number} 电梯里还有异响")
        await resident.expect("已把补充内容转给处理人员")
        assert "还有异响" in (await holder.expect("住户补充")).text

        await holder.press("办结", ping)
        await holder.expect("请输入工单")
        await holder.send("已更换控制板，电梯恢复正常")
        await holder.expect("已办结")
        result = await resident.expect("已处理完毕")
        assert "已更换控制板" in result.text

        stored = await ticket(bot_app, number)
        assert stored.status == "resolved" and stored.resolved_at is not None
        actions = [(e.action, e.to_status) for e in await events(bot_app, number)]
        assert actions == [
            ("created", "new"), ("assign", "assigned"), ("accept", "accepted"),
            ("note", None), ("info", None), ("resolve", "resolved"), ("callback_planned", None),
        ]
        await resident.send(f"/status {number}")
        card = await resident.expect("进度")
        assert "处理进展：已联系电梯公司，下午来修" in card.text and "已处理完毕：已更换控制板" in card.text
        assert "callback" not in card.text and "queue" not in card.text

    async def test_mine_and_commands(self, bot_app, crew, resident):
        number = await file_complaint(resident, "地下车库的灯坏了好几盏")
        stored = await routed(bot_app, number)
        holder = crew["zhang"] if stored.assignee_id == crew["zhang"].staff_id else crew["li"]
        await holder.expect(number)
        await holder.send("/mine")
        listing = await holder.expect("我的待办")
        assert number in listing.text
        await holder.send(f"/accept {number}")
        await holder.expect("已接单")
        await holder.send(f"/accept {number}")
        assert "已经接单" in (await holder.next_message()).text
        for command, reply in (("/note", "用法：/note"), (f"/note {number}", "用法：/note"), ("/resolve", "用法：/resolve"),
                               ("/ticket", "请在命令后加上工单号"), ("/accept TS20990101-0001", "没有找到工单")):
            await holder.send(command)
            assert reply in (await holder.next_message()).text
        await holder.send(f"/resolve {number} 已更换灯管")
        await holder.expect("已办结")
        await resident.expect("已处理完毕")
        await holder.send("/mine")
        assert "没有待办" in (await holder.expect("待办")).text

    async def test_urgent_pings_supervisor_and_staff_report_goes_to_hr(self, bot_app, crew, resident):
        number = await file_complaint(resident, "电梯困人了！有人被困在电梯里出不来")
        supervisor_ping = await crew["supervisor"].expect(number)
        assert "紧急" in supervisor_ping.text
        stored = await routed(bot_app, number)
        assert stored.severity == "urgent" and stored.assignee_id in (crew["zhang"].staff_id, crew["li"].staff_id)

        for text, flag, desk in (
            ("我是物业的员工，投诉我们主管经常无故克扣我们的加班费", "staff_report", "hr"),
            ("物业的维修工私下收钱不开发票，还索要好处费", "customer_report", "audit"),
        ):
            report = await file_complaint(resident, text)
            stored = await routed(bot_app, report)
            assert flag in stored.flags
            async with bot_app.sessions() as session:
                team = await staff_service.team_by_code(session, desk)
            assert stored.team_id == team.id
            if desk == "hr":
                await crew["hr"].expect(report)
            for worker in ("zhang", "li", "supervisor"):  # never shown to the team concerned
                assert not any(report in (m.text or "") for m in await crew[worker].messages())


class TestTransferAndCategory:
    async def test_transfer_to_another_team(self, bot_app, crew, resident):
        number = await file_complaint(resident, "楼道里堆满了垃圾没人清理，电梯口很脏")
        stored = await routed(bot_app, number)
        async with bot_app.sessions() as session:
            holder = await session.get(Staff, stored.assignee_id)
        holder_user = next(u for u in crew.values() if u.staff_id == holder.id)
        ping = await holder_user.expect(number)
        await holder_user.press("转派", ping)
        chooser = await holder_user.expect("转派给哪个班组")
        target_team, target = ("客服部", crew["service"]) if holder.name != "钱客服" else ("环境部", crew["cleaner"])
        await holder_user.press(target_team, chooser)
        people = await holder_user.wait_edit(chooser)
        assert "的谁" in people.text and people.button_texts()[0] == "🤖 自动分配"
        await holder_user.press("自动分配", people)
        done = await holder_user.wait_edit(people)
        assert "已将" in done.text and number in done.text
        assert "转派给您" in (await target.expect(number)).text
        stored = await ticket(bot_app, number)
        assert stored.assignee_id == target.staff_id and stored.status == "assigned"
        assert [e.action for e in await events(bot_app, number)][-1] == "assign"

    async def test_category_correction_moves_and_is_kept(self, bot_app, crew, resident):
        number = await file_complaint(resident, "3栋楼下绿化带里全是狗屎，也没人打扫")
        stored = await routed(bot_app, number)
        if stored.category == "工程管理":
            pytest.fail("classifier put a cleaning matter to engineering")
        # whoever got it, the supervisor of engineering cannot touch it; the holder corrects it to 工程管理
        async with bot_app.sessions() as session:
            holder = await session.get(Staff, stored.assignee_id)
        holder_user = next(u for u in crew.values() if u.staff_id == holder.id)
        ping = await holder_user.expect(number)
        await holder_user.press("改分类", ping)
        chooser = await holder_user.expect("请选择正确的分类")
        await holder_user.press("工程管理", chooser)
        moved = await holder_user.wait_edit(chooser)
        assert "工程管理" in moved.text and "工程部" in moved.text
        stored = await ticket(bot_app, number)
        assert stored.category == "工程管理"
        assert stored.assignee_id in (crew["zhang"].staff_id, crew["li"].staff_id)
        async with bot_app.sessions() as session:
            [correction] = (await session.exec(select(CategoryCorrection))).all()
        assert (correction.predicted, correction.corrected) == (holder_user and correction.predicted, "工程管理")
        assert "狗屎" in correction.text


class TestPermissions:
    async def test_resident_cannot_use_staff_commands(self, crew, resident):
        for command in ("/mine", "/accept TS20260101-0001", "/ticket TS20260101-0001"):
            await resident.send(command)
            assert "没有这个命令" in (await resident.next_message()).text

    async def test_only_the_holder_acts(self, bot_app, crew, resident):
        number = await file_complaint(resident, "小区里的路灯坏了")
        stored = await routed(bot_app, number)
        holder = crew["zhang"] if stored.assignee_id == crew["zhang"].staff_id else crew["li"]
        other = crew["li"] if holder is crew["zhang"] else crew["zhang"]
        await holder.expect(number)
        await other.send(f"/accept {number}")
        assert "不在您名下" in (await other.next_message()).text
        await other.send(f"/resolve {number} 修好了")
        assert "不在您名下" in (await other.next_message()).text
        await crew["cleaner"].send(f"/ticket {number}")
        assert "没有找到工单" in (await crew["cleaner"].next_message()).text
        await holder.send(f"/resolve {number} 修好了")
        assert "请先接单" in (await holder.next_message()).text
        assert (await ticket(bot_app, number)).status == "assigned"

    async def test_forged_and_stale_buttons(self, bot_app, crew, resident):
        number = await file_complaint(resident, "3栋电梯坏了，门关不上")
        stored = await routed(bot_app, number)
        holder = crew["zhang"] if stored.assignee_id == crew["zhang"].staff_id else crew["li"]
        ping = await holder.expect(number)
        # a worker of another team forging an accept for this ticket
        answer = await crew["cleaner"].callback_answer(
            await crew["cleaner"].press_data(ping.message_id, f"st:acc:{stored.id}:")
        )
        assert answer.show_alert
        for data in (f"st:acc:{stored.id + 999}:", "st:setc:1:99", "st:trp:1:nowhere.0", "st:zzz:1:"):
            answer = await holder.callback_answer(await holder.press_data(ping.message_id, data))
            assert answer.show_alert
        await holder.press("接单", ping)
        await holder.expect("已接单")
        await holder.send(f"/resolve {number} 已修好")
        await holder.expect("已办结")
        # the old ping's accept button after the ticket is resolved
        answer = await holder.callback_answer(await holder.press_data(ping.message_id, f"st:acc:{stored.id}:"))
        assert answer.show_alert and "不能执行" in answer.text
        assert (await ticket(bot_app, number)).status == "resolved"


class TestUnreachableStaff:
    async def test_blocked_worker_is_skipped_and_supervisor_told(self, bot_app, client, crew, resident):
        await crew["zhang"].block()
        await crew["li"].block()
        number = await file_complaint(resident, "2栋的水泵坏了，楼上没水")
        note = await crew["supervisor"].expect("无法给工作人员")
        assert "张师傅" in note.text or "李师傅" in note.text
        # both workers unreachable: the supervisor ends up holding it
        await crew["supervisor"].expect(number)
        stored = await ticket(bot_app, number)
        assert stored.assignee_id == crew["supervisor"].staff_id
        async with bot_app.sessions() as session:
            unreachable = {p.name for p in (await session.exec(select(Staff).where(Staff.unreachable))).all()}
        assert unreachable == {"张师傅", "李师傅"}
