"""Deadlines and upgrades through the sandbox with second-scale settings (SPEC "Upgrades")."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models.tables import Complaint, ComplaintEvent
from services import matters
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard, wait_for
from tests.e2e.test_callbacks import complaint_row

pytestmark = pytest.mark.e2e

QUICK = dict(scheduler_tick="0.3s", callback_slots="", callback_delay="1h")


@pytest.fixture
async def quick_app(sandbox, sqlite_url, classifier, request):
    overrides = {**QUICK, **getattr(request, "param", {})}
    async with running_app(make_settings(sandbox, sqlite_url, **overrides), classifier) as app:
        yield app


@pytest.fixture
async def desk(quick_app, client):
    return {
        "supervisor": await onboard(quick_app, client, 9901, "王主管", "engineering", "supervisor"),
        "worker": await onboard(quick_app, client, 9902, "张师傅", "engineering"),
        "manager": await onboard(quick_app, client, 9903, "刘经理", None, "manager"),
    }


class TestEscalation:
    @pytest.mark.parametrize("quick_app", [{"sla": {"urgent_response": "2s", "urgent_resolve": "1h"}}], indirect=True)
    async def test_not_accepted_goes_to_supervisor_then_manager(self, quick_app, desk, client):
        resident = client.user(6101, first_name="赵六", phone="13600001111")
        number = await file_complaint(resident, "电梯困人了！3栋有人被困在电梯里")
        await desk["worker"].expect(number)
        warning = await desk["supervisor"].expect("超时预警", timeout=15)
        assert number in warning.text and "张师傅" in warning.text
        upgrade = await desk["manager"].expect("超时升级", timeout=15)
        assert number in upgrade.text and "工程部" in upgrade.text
        assert (await complaint_row(quick_app, number)).response_level == 2
        # once per level: no repeats while nothing changes
        supervisor_warnings = [m for m in await desk["supervisor"].messages() if "超时预警" in (m.text or "")]
        assert len(supervisor_warnings) == 1

    @pytest.mark.parametrize("quick_app", [{"sla": {"urgent_response": "1h", "urgent_resolve": "3s"}}], indirect=True)
    async def test_resolution_reminder_then_overdue(self, quick_app, desk, client):
        resident = client.user(6102, first_name="钱七", phone="13600002222")
        number = await file_complaint(resident, "地下室水管爆了，水漫进车库了")
        await desk["worker"].expect(number)
        await desk["worker"].send(f"/accept {number}")
        await desk["worker"].expect("已接单")
        assert number in (await desk["worker"].expect("提醒", timeout=15)).text
        overdue = await desk["supervisor"].expect("已超过办结期限", timeout=15)
        assert number in overdue.text
        assert (await complaint_row(quick_app, number)).resolve_level == 2

    @pytest.mark.parametrize("quick_app", [{"progress_nudge_after": "2s"}], indirect=True)
    async def test_no_progress_nudges_assignee_and_tells_resident(self, quick_app, desk, client):
        resident = client.user(6103, first_name="孙八", phone="13600003333")
        number = await file_complaint(resident, "5栋的水管漏水了")
        await desk["worker"].expect(number)
        await desk["worker"].send(f"/accept {number}")
        await desk["worker"].expect("已接单")
        await resident.expect("受理")
        assert number in (await resident.expect("仍在处理中", timeout=15)).text
        assert number in (await desk["worker"].expect("没有处理进展", timeout=15)).text


class TestMajorAndMerge:
    async def test_third_resident_makes_all_three_major(self, quick_app, desk, client):
        residents = [client.user(6200 + i, first_name=f"住户{i}", phone=f"1370000{i:04d}") for i in range(3)]
        texts = ["3栋的电梯又坏了，一直没人修", "3栋电梯坏了好几天了没人修", "3栋的电梯坏了没人来修"]
        numbers = []
        for i, (resident, text) in enumerate(zip(residents, texts)):
            numbers.append(await file_complaint(resident, text, location=f"3栋{i + 1}单元"))
        alert = await desk["manager"].expect("重大投诉", timeout=15)
        assert all(number in alert.text for number in numbers)
        rows = [await complaint_row(quick_app, n) for n in numbers]
        assert all(c.major for c in rows)
        assert {c.related_to_id or c.id for c in rows} == {rows[0].id}
        assert matters.decode_reason(rows[2].major_reason) == {"residents": 3, "days": 30}
        assert "3位住户30天内反映同一问题" in alert.text

    async def test_two_residents_are_not_major(self, quick_app, desk, client):
        for i in range(2):
            resident = client.user(6300 + i, first_name=f"邻居{i}", phone=f"1350000{i:04d}")
            await file_complaint(resident, "5栋的路灯坏了", location="5栋")
        async with quick_app.sessions() as session:
            assert not any(c.major for c in (await session.exec(select(Complaint))).all())

    async def test_lawsuit_threat_is_major_at_once(self, quick_app, desk, client):
        resident = client.user(6401, first_name="周九", phone="13500009999")
        number = await file_complaint(resident, "电梯坏了一个月没人修，再不修我就去法院起诉物业")
        alert = await desk["manager"].expect("重大投诉", timeout=15)
        assert number in alert.text and "起诉" in alert.text
        assert (await complaint_row(quick_app, number)).major

    async def test_repeat_report_is_merged(self, quick_app, desk, client):
        resident = client.user(6501, first_name="吴十", phone="13500001234")
        number = await file_complaint(resident, "2栋的电梯坏了，按钮没反应", location="2栋1单元")
        await desk["worker"].expect(number)
        await resident.send("2栋电梯还是坏的，按钮没反应")
        await resident.expect("在哪里")
        await resident.send("2栋1单元")
        await resident.expect("联系方式")
        await resident.send("13500001234")
        summary = await resident.expect("请确认")
        await resident.press("确认提交", summary)
        merged = await resident.expect("合并")
        assert number in merged.text
        assert "还是坏的" in (await desk["worker"].expect("住户补充")).text
        async with quick_app.sessions() as session:
            assert len((await session.exec(select(Complaint))).all()) == 1
            actions = [e.action for e in (await session.exec(select(ComplaintEvent))).all()]
        assert "merged" in actions


class TestPause:
    async def test_waiting_for_the_resident_moves_the_deadline(self, quick_app, desk, client):
        resident = client.user(6601, first_name="郑一", phone="13500005678")
        number = await file_complaint(resident, "6栋地下室的水管漏水")
        await desk["worker"].expect(number)
        await desk["worker"].send(f"/accept {number}")
        accepted = await desk["worker"].expect("已接单")
        before = (await complaint_row(quick_app, number)).resolve_by
        await desk["worker"].press("等待住户", accepted)

        async def paused():
            return (await complaint_row(quick_app, number)).pauses

        assert await wait_for(paused)
        await resident.send(f"/add {number} 我家晚上7点后有人在")
        await resident.expect("已把补充内容转给处理人员")
        after = await complaint_row(quick_app, number)
        assert after.pauses[-1][1] is not None  # resumed by the resident's answer
        assert after.resolve_by >= before
        async with quick_app.sessions() as session:
            actions = [e.action for e in (await session.exec(
                select(ComplaintEvent).where(ComplaintEvent.complaint_id == after.id))).all()]
        assert actions.count("pause") == 1 and actions.count("resume") == 1


class TestSeverityChange:
    async def test_raising_the_severity_recomputes_the_deadlines(self, quick_app, desk, client):
        resident = client.user(6701, first_name="冯二", phone="13500002468")
        number = await file_complaint(resident, "7栋的路灯不亮了")
        ping = await desk["worker"].expect(number)
        before = await complaint_row(quick_app, number)
        assert before.severity == "general"
        await desk["worker"].press("改级别", ping)
        chooser = await desk["worker"].expect("请选择")
        await desk["worker"].press("紧急", chooser)
        changed = await desk["worker"].wait_edit(chooser)
        assert "Ⅰ 紧急" in changed.text
        after = await complaint_row(quick_app, number)
        assert after.severity == "urgent"
        assert after.respond_by - after.created_at == quick_app.settings.sla.urgent_response  # wall clock now
        assert after.resolve_by < before.resolve_by
