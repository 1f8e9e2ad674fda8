"""Satisfaction callbacks through the sandbox with second-scale settings (SPEC "Satisfaction callback")."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import select

from bot.app import HuifangApp
from models.tables import CallbackAttempt, CallbackRound, Complaint
from services.slots import parse_slots, slot_of
from tests.clock import PinnedClock
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, onboard, resolve, wait_for

pytestmark = pytest.mark.e2e

from tests.e2e.callbacks_fast import FAST  # noqa: E402


async def complaint_row(app, number: str) -> Complaint:
    async with app.sessions() as session:
        return (await session.exec(select(Complaint).where(Complaint.number == number))).one()


async def rounds_of(app, number: str) -> list[CallbackRound]:
    complaint = await complaint_row(app, number)
    async with app.sessions() as session:
        return list((await session.exec(select(CallbackRound).where(
            CallbackRound.complaint_id == complaint.id).order_by(CallbackRound.id))).all())


async def attempts_of(app, number: str) -> list[CallbackAttempt]:
    complaint = await complaint_row(app, number)
    async with app.sessions() as session:
        return list((await session.exec(select(CallbackAttempt).where(
            CallbackAttempt.complaint_id == complaint.id).order_by(CallbackAttempt.id))).all())


async def prompts(user) -> list:
    return [m for m in await user.messages() if "满意度回访" in (m.text or "")]


async def handle_and_resolve(worker, number: str, result: str = "已修好") -> None:
    """The worker accepts (or re-accepts) and resolves with a result note."""
    await worker.send(f"/accept {number}")
    await worker.expect("已接单")
    await resolve(worker, number, result)  # Ⅰ/Ⅱ: the cause is asked first


async def resolved_ticket(people, description: str, result: str = "已修好", **kwargs) -> str:
    """A resident files, the worker is pinged, accepts and resolves; returns the number."""
    number = await file_complaint(people["resident"], description, **kwargs)
    await people["worker"].expect(number)
    await handle_and_resolve(people["worker"], number, result)
    return number


@pytest.fixture
async def fast_app(sandbox, sqlite_url, classifier):
    async with running_app(make_settings(sandbox, sqlite_url, **FAST), classifier) as app:
        yield app


@pytest.fixture
async def people(fast_app, client):
    return {
        "supervisor": await onboard(fast_app, client, 9501, "王主管", "engineering", "supervisor"),
        "worker": await onboard(fast_app, client, 9502, "张师傅", "engineering"),
        "resident": client.user(5601, first_name="王芳", phone="13812345678"),
    }


class TestRatings:
    async def test_satisfied_resident_closes_the_ticket(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "3栋电梯坏了", "已更换电梯控制板")
        prompt = await resident.expect("满意度回访", timeout=15)
        assert number in prompt.text and "已更换电梯控制板" in prompt.text
        assert prompt.button_texts() == ["5 非常满意", "4 满意", "3 一般", "2 不满意", "1 非常不满意", "问题未解决"]
        await resident.press("5 非常满意", prompt)
        assert "已关闭" in (await resident.expect("感谢")).text
        await resident.expect("意见或建议")
        await resident.send("师傅很专业")
        await resident.expect("已收到您的意见")
        complaint = await complaint_row(fast_app, number)
        assert (complaint.status, complaint.close_reason) == ("closed", "satisfied")
        [round_] = await rounds_of(fast_app, number)
        assert (round_.status, round_.rating, round_.comment) == ("answered", 5, "师傅很专业")

    async def test_rating_three_closes_and_asks_the_supervisor_to_review(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "楼道灯坏了")
        prompt = await resident.expect("满意度回访", timeout=15)
        await resident.press("3 一般", prompt)
        await resident.expect("复核")
        assert number in (await people["supervisor"].expect("请复核")).text
        complaint = await complaint_row(fast_app, number)
        assert complaint.status == "closed" and complaint.needs_review

    async def test_not_solved_reopens_and_a_second_round_follows(self, fast_app, people):
        resident, worker, supervisor = people["resident"], people["worker"], people["supervisor"]
        number = await resolved_ticket(people, "5栋水管漏水", "已紧固接头")
        first = await resident.expect("满意度回访", timeout=15)
        await resident.press("问题未解决", first)
        await resident.expect("重新打开")
        alert = await supervisor.expect("重新打开")
        assert number in alert.text and "问题未解决" in alert.text
        await worker.expect("请再次处理")
        assert (await complaint_row(fast_app, number)).status == "reopened"
        await resident.send("还是在滴水")  # the comment goes to the supervisor
        await supervisor.expect("还是在滴水")

        await handle_and_resolve(worker, number, "已更换整段水管")
        second = await resident.expect("满意度回访", timeout=15)
        assert "已更换整段水管" in second.text and second.message_id != first.message_id
        await resident.press("4 满意", second)
        await resident.expect("已关闭")
        rounds = await rounds_of(fast_app, number)
        assert [(r.round_no, r.status, r.rating) for r in rounds] == [(1, "answered", 0), (2, "answered", 4)]
        assert (await complaint_row(fast_app, number)).status == "closed"


class TestNewMatterDuringCallback:
    async def test_writing_something_new_starts_a_new_ticket_and_the_rating_still_counts(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "8栋的电梯坏了")
        prompt = await resident.expect("满意度回访", timeout=15)
        await resident.send("另外，9栋地下车库的灯也不亮了")  # a new matter instead of a rating
        await resident.expect("在哪里")
        await resident.press("5 非常满意", prompt)  # rating in the middle of the new intake
        await resident.expect("已关闭")
        await resident.send("9栋地下车库")  # the new intake carries on where it was
        await resident.expect("联系方式")
        await resident.send("13812345678")
        await resident.expect("请确认")
        await resident.press("确认提交")
        receipt = await resident.expect("工单号")
        assert number not in receipt.text
        assert (await complaint_row(fast_app, number)).status == "closed"


class TestSilence:
    async def test_three_prompts_then_unreachable_then_closed(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "小区大门的道闸坏了")

        async def closed():
            return (await complaint_row(fast_app, number)).status == "closed"

        assert await wait_for(closed, timeout=30)
        sent = await prompts(resident)
        assert len(sent) == 3  # exactly three, then no more
        attempts = await attempts_of(fast_app, number)
        assert [(a.attempt_no, a.state) for a in attempts] == [(1, "expired"), (2, "expired"), (3, "expired")]
        gaps = [(b.sent_at - a.sent_at) for a, b in zip(attempts, attempts[1:])]
        assert all(gap >= timedelta(seconds=2) for gap in gaps)  # each waited the answer timeout
        [round_] = await rounds_of(fast_app, number)
        assert round_.status == "unreachable"
        complaint = await complaint_row(fast_app, number)
        assert complaint.close_reason == "unreachable"
        await asyncio.sleep(1)
        assert len(await prompts(resident)) == 3

    async def test_late_answers(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "地库的灯不亮")
        first = await resident.expect("满意度回访", timeout=15)
        second = await resident.expect("满意度回访", timeout=15)  # the first one went unanswered
        assert second.message_id != first.message_id
        await resident.press("4 满意", first)  # an older prompt of a round still open: accepted
        await resident.expect("已关闭")
        # the round is over: the newer prompt's buttons now get a polite answer and change nothing
        data = second.callback_data("1 非常不满意")
        await resident.press_data(second.message_id, data, check=True)
        assert "回访已经结束" in (await resident.expect("回访已经结束")).text
        complaint = await complaint_row(fast_app, number)
        assert complaint.status == "closed"
        [round_] = await rounds_of(fast_app, number)
        assert round_.rating == 4

    async def test_stale_and_forged_rating_buttons(self, fast_app, people, client):
        resident = people["resident"]
        number = await resolved_ticket(people, "楼下的水管漏水了")
        prompt = await resident.expect("满意度回访", timeout=15)
        stranger = client.user(5999, first_name="路人")
        await stranger.send("/start")
        await stranger.next_message()
        attempt_id = prompt.callback_data("5 非常满意").split(":")[1]
        for user, data in ((stranger, f"cb:{attempt_id}:5"), (resident, "cb:999999:5"),
                           (resident, f"cb:{attempt_id}:9"), (resident, "cb:abc:5")):
            answer = await user.callback_answer(await user.press_data(prompt.message_id, data))
            assert answer.show_alert
        [round_] = await rounds_of(fast_app, number)
        assert round_.status == "open" and round_.rating is None


class TestNoCallback:
    async def test_anonymous_gets_no_prompt_and_closes_after_the_period(self, fast_app, people):
        resident = people["resident"]
        number = await resolved_ticket(people, "2栋的电梯不动了", anonymous=True)

        async def closed():
            return (await complaint_row(fast_app, number)).status == "closed"

        assert await wait_for(closed)
        assert await prompts(resident) == []
        [round_] = await rounds_of(fast_app, number)
        assert (round_.status, round_.skip_reason) == ("skipped", "anonymous")
        assert (await complaint_row(fast_app, number)).close_reason == "no_callback"

    async def test_sensitive_and_on_the_spot(self, fast_app, people):
        resident, worker = people["resident"], people["worker"]
        sensitive = await file_complaint(resident, "5栋的水管爆了")
        await worker.expect(sensitive)
        await worker.send(f"/accept {sensitive}")
        accepted = await worker.expect("已接单")
        await worker.press("不便回访", accepted)
        await worker.send(f"/resolve {sensitive} 已协调处理")
        await worker.expect("已办结")

        spot = await file_complaint(resident, "3栋的路灯坏了")
        await worker.expect(spot)
        await worker.send(f"/accept {spot}")
        accepted = await worker.expect("已接单")
        await worker.press("办结", accepted)
        ask = await worker.expect("请输入工单")
        await worker.press("现场解决", ask)
        await worker.send("现场修好，住户确认满意")
        await worker.expect("已办结")
        await asyncio.sleep(2)
        assert await prompts(resident) == []
        assert [r.skip_reason for r in await rounds_of(fast_app, sensitive)] == ["sensitive"]
        assert [r.skip_reason for r in await rounds_of(fast_app, spot)] == ["on_spot"]


class TestRestartAndProcesses:
    async def test_restart_between_attempts_continues_without_duplicates(self, sandbox, client, sqlite_url, classifier):
        settings = make_settings(sandbox, sqlite_url, **FAST)
        first = HuifangApp(settings, classifier=classifier)
        await first.start()
        worker = await onboard(first, client, 9601, "张师傅", "engineering")
        resident = client.user(5701, first_name="李雷", phone="13900001111")
        number = await resolved_ticket({"resident": resident, "worker": worker}, "楼顶水箱漏水")
        await resident.expect("满意度回访", timeout=15)
        await first.stop()  # killed between attempt 1 and attempt 2
        await asyncio.sleep(3)  # attempt 2 falls due while no process runs

        second = HuifangApp(settings, classifier=classifier)
        await second.start()
        try:
            async def unreachable():
                rounds = await rounds_of(second, number)
                return rounds and rounds[0].status == "unreachable"

            assert await wait_for(unreachable, timeout=30)
            assert len(await prompts(resident)) == 3
            assert [a.attempt_no for a in await attempts_of(second, number)] == [1, 2, 3]
        finally:
            await second.stop()

    async def test_two_processes_on_postgres_send_each_prompt_once(self, sandbox, client, classifier, request):
        from tests.conftest import POSTGRES_URL, require_service, reset_postgres
        from models.db import upgrade

        require_service("postgres", POSTGRES_URL, 5432)
        await reset_postgres(POSTGRES_URL)
        await upgrade(POSTGRES_URL)
        settings = make_settings(sandbox, POSTGRES_URL, **{**FAST, "scheduler_tick": "0.1s"})
        main = HuifangApp(settings, classifier=classifier)
        other = HuifangApp(settings, classifier=classifier)  # second process: scheduler only, no polling
        await main.start()
        other.scheduler.start()
        try:
            worker = await onboard(main, client, 9701, "张师傅", "engineering")
            residents = [client.user(5800 + i, first_name=f"住户{i}", phone=f"1390000{i:04d}") for i in range(4)]
            numbers = []
            for i, resident in enumerate(residents):
                # different buildings: a newer complaint on the same matter would hold the closing
                numbers.append(await file_complaint(resident, f"{i + 1}号楼电梯坏了", f"{i + 1}栋1单元"))
                await worker.expect(numbers[-1])
                await handle_and_resolve(worker, numbers[-1])

            async def all_closed():
                rows = [await complaint_row(main, n) for n in numbers]
                return all(c.status == "closed" for c in rows)

            assert await wait_for(all_closed, timeout=40)
            for resident, number in zip(residents, numbers):
                assert len(await prompts(resident)) == 3
                attempts = await attempts_of(main, number)
                assert [a.attempt_no for a in attempts] == [1, 2, 3]
            claimers = {a.claimed_by for n in numbers for a in await attempts_of(main, n)}
            assert len(claimers) >= 1
        finally:
            await other.scheduler.stop()
            await other.bot.session.close()
            await other.engine.dispose()
            await main.stop()


class TestSlotsWithAClock:
    """Default slots, 1d delay, 4h answer time: the three attempts land in three different times of day,
    whatever the hour of the resolution. The app's clock is pinned; the real time never matters."""

    # Every hour of one day, plus the evening and last-minute cases seen to fail on the wall clock.
    RESOLVED_AT = [time(hour) for hour in range(24)] + [time(20, 40), time(23, 59)]

    async def test_three_attempts_land_in_three_different_slots_from_every_hour(
            self, sandbox, client, sqlite_url, classifier):
        settings = make_settings(sandbox, sqlite_url, callback_slots="09:00-12:00,14:00-17:30,18:30-20:00",
                                 callback_delay="1d", callback_answer_timeout="4h", scheduler_tick="1h")
        day = date(2026, 11, 26)  # a Thursday; callbacks follow slots, not working days
        clock = PinnedClock(datetime.combine(day, time(0), settings.tz).astimezone(UTC) - timedelta(minutes=30))
        async with running_app(settings, classifier, with_scheduler=False, clock=clock) as app:
            worker = await onboard(app, client, 9801, "张师傅", "engineering")
            tickets = []
            for index, at in enumerate(self.RESOLVED_AT):
                resident = client.user(5901 + index, first_name=f"住户{index}", phone=f"137{index:08d}")
                # each in its own building: not one matter of 26 residents (a major, resolved together)
                number = await file_complaint(resident, f"{index + 1}栋电梯按钮坏了", f"{index + 1}栋1单元")
                await worker.expect(number)
                tickets.append((at, resident, number))
            for at, _resident, number in sorted(tickets, key=lambda t: t[0]):
                clock.set(datetime.combine(day, at, settings.tz).astimezone(UTC))
                await handle_and_resolve(worker, number)
            slots = parse_slots(settings.callback_slots)
            while clock.now < datetime.combine(day + timedelta(days=4), time(0), settings.tz):
                clock.advance(timedelta(minutes=15))
                await app.worker.tick()
                await app.delivery.flush()  # prompts go out within the tick (a real tick is seconds apart)
            for at, resident, number in tickets:
                attempts = await attempts_of(app, number)
                timeline = "; ".join(f"{a.attempt_no}: {a.sent_at.astimezone(settings.tz):%a %H:%M} "
                                     f"slot {slot_of(a.sent_at, slots, settings.tz)}" for a in attempts)
                where = f"resolved {at:%H:%M}: {timeline}"
                assert [a.state for a in attempts] == ["expired", "expired", "expired"], where
                used = [slot_of(a.sent_at, slots, settings.tz) for a in attempts]
                assert sorted(used) == [0, 1, 2], where  # morning, afternoon, evening: each once
                resolved = (await complaint_row(app, number)).resolved_at
                assert resolved.astimezone(settings.tz).time() == at, where
                assert attempts[0].sent_at >= resolved + timedelta(days=1), where
                for earlier, later in zip(attempts, attempts[1:]):
                    assert later.sent_at - earlier.sent_at >= timedelta(hours=4), where
                assert len(await prompts(resident)) == 3, where
                print("callback timeline,", where)


async def _told_resolved(user) -> bool:
    return any("已处理完毕" in (m.text or "") for m in await user.messages())


class TestFloodIsolation:
    async def test_a_flood_limited_chat_holds_up_nobody_else_and_loses_no_attempt(self, fast_app, people, client):
        worker = people["worker"]
        limited = client.user(5611, first_name="受限住户", phone="13800001111")
        other = client.user(5612, first_name="其他住户", phone="13800002222")
        numbers = []
        for resident, description in ((limited, "2栋水管漏水"), (other, "4栋楼道灯坏了")):
            numbers.append(await file_complaint(resident, description))
            await worker.expect(numbers[-1])
        limited_number, other_number = numbers
        # Telegram answers every message to one chat with 429 for a while (set before the resolve,
        # so the prompt cannot slip out first however slow the machine) …
        await client.inject_fault("sendMessage", count=1000, retry_after=2, chat_id=limited.id)
        for number in numbers:
            await handle_and_resolve(worker, number)
        prompt = await other.expect("满意度回访", timeout=30)  # … the other resident's prompt still goes out
        assert other_number in prompt.text
        [held] = await attempts_of(fast_app, limited_number)
        assert held.state == "claimed"  # queued, not counted as an unanswered attempt
        assert await prompts(limited) == []
        await client.clear_faults()
        late = await limited.expect("满意度回访", timeout=60)
        assert limited_number in late.text
        assert await wait_for(lambda: _told_resolved(limited))  # the resolution was held, not lost
        async def first_attempt_recorded():
            first = (await attempts_of(fast_app, limited_number))[0]
            return first if first.state != "claimed" else None

        first = await wait_for(first_attempt_recorded)
        assert first.attempt_no == 1 and first.state in ("sent", "expired")  # the held-up prompt was attempt 1
