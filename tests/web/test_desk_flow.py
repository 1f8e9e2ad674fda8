"""The desk's pages over a real database: register by phone, the board, a ticket's actions through
the bot's use cases, phone callbacks by the three-attempt rule; refusals change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text as sa_text
from sqlmodel import col, select

from models.db import fresh_transaction
from models.tables import CallbackAttempt, CallbackRound, Complaint, OutboxNotice, Resident
from services.lifecycle import ResidentProfile, get_or_create_resident
from services.notices import NoticeKind

NUMBER = re.compile(r"TS\d{8}-\d{4}")
LIFT = "电梯坏了，门打不开，楼道灯也不亮"


async def telegram_resident(sessions, telegram_id: int, name: str, phone: str) -> Resident:
    """A resident who uses the bot, with the phone they shared."""
    async with sessions() as session:
        user = await get_or_create_resident(session, ResidentProfile(telegram_id, telegram_id, name))
        await fresh_transaction(session)
        user.phone = phone
        session.add(user)
        await session.commit()
        return user


async def register(desk, *, description=LIFT, phone="13900001234", name="陈阿姨", location="5栋2单元",
                   channel="phone") -> str:
    response = await desk.form("/register", {"channel": channel, "name": name, "phone": phone,
                                             "location": location, "description": description, "draft": "d1" + phone})
    assert response.status_code == 303, response.text
    return NUMBER.search(response.headers["location"]).group(0)


async def ticket(sessions, number) -> Complaint:
    async with sessions() as session:
        return (await session.exec(select(Complaint).where(Complaint.number == number))).one()


async def notices(sessions, kind: NoticeKind) -> list[OutboxNotice]:
    async with sessions() as session:
        return list((await session.exec(select(OutboxNotice).where(OutboxNotice.kind == kind.value)
                                        .order_by(col(OutboxNotice.id)))).all())


async def test_a_phone_complaint_is_numbered_routed_and_pinged_like_a_telegram_one(console, people, sessions):
    fixer = await people.make("张师傅", "engineering")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    form = await desk.http.get("/register")
    for field in ("投诉渠道", "登记人", "住户姓名", "联系电话", "位置", "问题描述"):
        assert f">{field}" in form.text
    suggestion = await desk.form("/register/suggest", {"description": LIFT})
    assert "工程管理" in suggestion.text and "电梯" in suggestion.text
    number = await register(desk)
    complaint = await ticket(sessions, number)
    assert (complaint.channel, complaint.registrar_id, complaint.assignee_id) == ("phone", desk.staff.id, fixer.id)
    assert complaint.status == "assigned" and complaint.respond_by is not None
    async with sessions() as session:
        resident = await session.get(Resident, complaint.resident_id)
    assert resident.telegram_id is None and resident.phone == "13900001234"
    pings = await notices(sessions, NoticeKind.ASSIGNED)
    assert [(p.recipient_id, p.complaint_id) for p in pings] == [(fixer.id, complaint.id)]
    page = await desk.http.get(f"/tickets/{number}")
    assert "电话" in page.text and "前台小李" in page.text and "13900001234" in page.text


async def test_a_phone_of_a_bot_user_links_the_ticket_to_them(console, people, sessions, clock):
    await people.make("张师傅", "engineering")
    user = await telegram_resident(sessions, 7001, "王芳", "13812345678")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await register(desk, phone="138 1234 5678")
    assert (await ticket(sessions, number)).resident_id == user.id


async def test_bad_registrations_say_what_is_wrong_and_store_nothing(console, people, sessions):
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    response = await desk.form("/register", {"channel": "phone", "name": "陈阿姨", "phone": "12345",
                                             "location": "5栋", "description": LIFT})
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert LIFT in response.text  # what was typed stays in the form
    missing = await desk.form("/register", {"channel": "phone", "name": "陈", "phone": "13900001234",
                                            "location": "5栋2单元", "description": LIFT}, csrf=False)
    assert missing.status_code == 403
    async with sessions() as session:
        assert (await session.exec(select(Complaint))).all() == []


async def test_staff_only_register_nothing_and_see_only_their_team(console, people, sessions):
    fixer = await people.make("张师傅", "engineering")
    cleaner = await people.make("李阿姨", "cleaning")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    lift = await register(desk)
    bins = await register(desk, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")
    as_cleaner = await people.login(cleaner)
    board = await as_cleaner.http.get("/")
    assert bins in board.text and lift not in board.text
    refused = await as_cleaner.http.get(f"/tickets/{lift}")
    assert refused.status_code == 403 and "不属于您的班组" in refused.text and LIFT not in refused.text
    before = await ticket(sessions, lift)
    tried = await as_cleaner.form(f"/tickets/{lift}/accept", {})
    assert tried.status_code == 403 and (await ticket(sessions, lift)).status == before.status
    assert (await as_cleaner.http.get("/register")).status_code == 403
    as_fixer = await people.login(fixer)
    assert lift in (await as_fixer.http.get("/")).text


async def test_board_filters_search_and_sla_colour(console, people, sessions, clock):
    await people.make("张师傅", "engineering")
    await people.make("李阿姨", "cleaning")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    lift = await register(desk)
    bins = await register(desk, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")
    everything = await desk.http.get("/")
    assert lift in everything.text and bins in everything.text and "sla-ok" in everything.text
    by_phone = await desk.http.get("/", params={"q": "5678"})
    assert bins in by_phone.text and lift not in by_phone.text
    by_number = await desk.http.get("/", params={"q": lift.lower()})
    assert lift in by_number.text and bins not in by_number.text
    engineering = (await ticket(sessions, lift)).team_id
    by_team = await desk.http.get("/", params={"team": str(engineering)}, headers={"HX-Request": "true"})
    assert lift in by_team.text and bins not in by_team.text and "<html" not in by_team.text
    assert lift not in (await desk.http.get("/", params={"overdue": "1"})).text
    clock.advance(timedelta(days=10))
    desk = await people.login(desk.staff)  # the session of ten days ago has expired
    late = await desk.http.get("/", params={"overdue": "1"})
    assert lift in late.text and bins in late.text and "sla-overdue" in late.text
    assert lift not in (await desk.http.get("/", params={"status": "closed"})).text


async def test_board_by_assignee_and_date_range(console, people, sessions, clock):
    fixer = await people.make("张师傅", "engineering")
    cleaner = await people.make("李阿姨", "cleaning")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    lift = await register(desk)  # Thursday 26 November, 10:00 in Shanghai
    clock.advance(timedelta(days=2))  # Saturday 28 November
    desk = await people.login(desk.staff)
    bins = await register(desk, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")
    mine = (await desk.http.get("/", params={"assignee": str(fixer.id)})).text
    assert lift in mine and bins not in mine
    assert bins in (await desk.http.get("/", params={"assignee": str(cleaner.id)})).text
    day = (await desk.http.get("/", params={"since": "2026-11-26", "until": "2026-11-26"})).text
    assert lift in day and bins not in day and 'value="2026-11-26"' in day
    later = (await desk.http.get("/", params={"since": "2026-11-27"})).text
    assert bins in later and lift not in later
    typo = (await desk.http.get("/", params={"since": "26/11/2026"})).text  # not a date: no filter
    assert lift in typo and bins in typo


async def test_resident_text_is_shown_escaped(console, people, sessions):
    await people.make("张师傅", "engineering")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    evil = '电梯坏了<script>alert("x")</script><b>粗体</b>'
    number = await register(desk, description=evil, name="<img src=x onerror=alert(1)>",
                            location="<i>5栋</i>")
    for url in ("/", f"/tickets/{number}"):
        page = (await desk.http.get(url)).text
        assert "<script>alert" not in page and "<img src=x" not in page and "<i>5栋" not in page
        assert "&lt;script&gt;" in page or "&lt;i&gt;5栋" in page


async def test_the_holder_works_the_ticket_in_the_console_and_the_resident_is_told(console, people, sessions):
    fixer = await people.make("张师傅", "engineering")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await register(desk)
    holder = await people.login(fixer)
    page = await holder.http.get(f"/tickets/{number}")
    assert "接单" in page.text and "139****1234" in page.text and "13900001234" not in page.text
    assert (await holder.form(f"/tickets/{number}/accept", {}, csrf=False)).status_code == 403
    assert (await ticket(sessions, number)).status == "assigned"
    assert (await holder.form(f"/tickets/{number}/accept", {})).status_code == 303
    assert (await ticket(sessions, number)).status == "accepted"
    assert "13900001234" in (await holder.http.get(f"/tickets/{number}")).text  # the full phone once accepted
    await holder.form(f"/tickets/{number}/note", {"text": "已联系电梯维保，下午到场"})
    empty = await holder.form(f"/tickets/{number}/resolve", {"result": "  "})
    assert empty.status_code == 409 and (await ticket(sessions, number)).status == "accepted"
    await holder.form(f"/tickets/{number}/resolve", {"result": "已更换门机板，电梯恢复运行"})
    complaint = await ticket(sessions, number)
    assert complaint.status == "resolved"
    kinds = [n.kind for n in await notices(sessions, NoticeKind.ACCEPTED)] + \
        [n.kind for n in await notices(sessions, NoticeKind.NOTE)] + [n.kind for n in await notices(sessions, NoticeKind.RESOLVED)]
    assert kinds == ["accepted", "note", "resolved"]
    timeline = (await desk.http.get(f"/tickets/{number}")).text
    assert "已联系电梯维保" in timeline and "已更换门机板" in timeline


async def resolved_phone_ticket(people, sessions, desk):
    fixer = await people.make("张师傅", "engineering")
    number = await register(desk)
    holder = await people.login(fixer)
    await holder.form(f"/tickets/{number}/accept", {})
    await holder.form(f"/tickets/{number}/resolve", {"result": "已修好"})
    return number


async def test_phone_callbacks_three_attempts_then_unreachable(console, people, sessions, clock):
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await resolved_phone_ticket(people, sessions, desk)
    assert number not in (await desk.http.get("/callbacks")).text  # due the next working day
    refused = await desk.form(f"/callbacks/{number}", {"result": "5", "method": "phone"})
    assert refused.status_code == 409 and (await ticket(sessions, number)).status == "resolved"
    for attempt in (1, 2, 3):
        async with sessions() as session:
            pending = (await session.exec(select(CallbackAttempt).where(CallbackAttempt.state == "pending"))).one()
        assert pending.attempt_no == attempt
        clock.set(pending.due_at + timedelta(minutes=1))
        desk = await people.login(desk.staff)  # a new day, a new session
        queue = await desk.http.get("/callbacks")
        assert number in queue.text and "13900001234" in queue.text
        await desk.form(f"/callbacks/{number}", {"result": "none", "method": "phone"})
    async with sessions() as session:
        round_ = (await session.exec(select(CallbackRound))).one()
        attempts = (await session.exec(select(CallbackAttempt).order_by(col(CallbackAttempt.id)))).all()
    assert round_.status == "unreachable"
    assert [(a.state, a.method, a.caller_id) for a in attempts] == [("expired", "phone", desk.staff.id)] * 3
    assert len({a.slot for a in attempts}) == 3  # each at another time of day
    assert number not in (await desk.http.get("/callbacks")).text


async def test_reached_by_phone_with_a_bad_rating_reopens_and_tells_the_supervisor(console, people, sessions, clock):
    supervisor = await people.make("王主管", "engineering", "supervisor")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await resolved_phone_ticket(people, sessions, desk)
    async with sessions() as session:
        pending = (await session.exec(select(CallbackAttempt))).one()
    clock.set(pending.due_at)
    desk = await people.login(desk.staff)
    before = await ticket(sessions, number)
    await desk.form(f"/callbacks/{number}", {"result": "0", "method": "visit", "comment": "还是坏的"})
    reopened = await ticket(sessions, number)
    assert reopened.status == "reopened"
    # The response and resolution deadlines start again from the reopen, as after a rating in chat.
    assert reopened.respond_by > clock() and reopened.resolve_by > clock()
    assert reopened.resolve_by > before.resolve_by
    told = await notices(sessions, NoticeKind.REOPENED_SUPERVISOR)
    assert [n.recipient_id for n in told] == [supervisor.id]
    page = (await desk.http.get(f"/tickets/{number}")).text
    assert "还是坏的" in page and "上门" in page


async def test_telegram_prompts_unanswered_fall_back_to_a_phone_call(console, people, sessions, clock):
    """A resident who uses the bot but left all three prompts unanswered is called from the console."""
    from services import satisfaction
    from services.satisfaction import CallbackPolicy

    fixer = await people.make("张师傅", "engineering")
    await telegram_resident(sessions, 7002, "赵先生", "13700007777")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await register(desk, phone="13700007777")
    holder = await people.login(fixer)
    await holder.form(f"/tickets/{number}/accept", {})
    await holder.form(f"/tickets/{number}/resolve", {"result": "已修好"})
    policy = console.state.context.callback_policy
    for _ in range(3):  # the scheduler's own steps: queue, delivered, no answer
        async with sessions() as session:
            pending = (await session.exec(select(CallbackAttempt).where(CallbackAttempt.state == "pending"))).one()
            clock.set(pending.due_at)
            queued = await satisfaction.queue_due_prompts(session, policy=policy, now=clock())
            assert len(queued) == 1
            await satisfaction.prompt_delivered(session, pending.id, chat_id=7002, message_id=1, policy=policy,
                                                now=clock())
            clock.advance(policy.answer_timeout + timedelta(minutes=1))
            await satisfaction.expire_unanswered(session, policy=policy, now=clock())
    assert isinstance(policy, CallbackPolicy)
    desk = await people.login(desk.staff)
    queue = await desk.http.get("/callbacks")
    assert number in queue.text and "Telegram 回访无人回复" in queue.text
    await desk.form(f"/callbacks/{number}", {"result": "5", "method": "phone"})
    complaint = await ticket(sessions, number)
    assert (complaint.status, complaint.close_reason) == ("closed", "satisfied")
    assert number not in (await desk.http.get("/callbacks")).text


async def test_directing_from_the_console_uses_the_bot_s_use_cases(console, people, sessions):
    from models.tables import CategoryCorrection, ComplaintEvent

    fixer = await people.make("张师傅", "engineering")
    await people.make("李阿姨", "cleaning")
    manager = await people.login(await people.make("刘经理", None, "manager"))
    number = await register(manager)
    holder = await people.login(fixer)
    await holder.form(f"/tickets/{number}/accept", {})
    await holder.form(f"/tickets/{number}/pause", {})
    complaint = await ticket(sessions, number)
    assert complaint.pauses and complaint.pauses[-1][1] is None
    await holder.form(f"/tickets/{number}/resume", {})
    await holder.form(f"/tickets/{number}/sensitive", {"on": "1"})
    assert (await ticket(sessions, number)).sensitive
    await manager.form(f"/tickets/{number}/classify", {"category": "环境管理", "severity": "urgent"})
    complaint = await ticket(sessions, number)
    assert (complaint.category, complaint.severity) == ("环境管理", "urgent")
    async with sessions() as session:
        assert len((await session.exec(select(CategoryCorrection))).all()) == 1
        actions = [e.action for e in (await session.exec(select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == complaint.id))).all()]
    assert {"pause", "resume", "sensitive", "category", "severity"} <= set(actions)
    board = await manager.http.get("/", params={"category": "环境管理", "channel": "phone", "severity": "urgent"})
    assert number in board.text
    assert number not in (await manager.http.get("/", params={"channel": "telegram"})).text


async def test_pages_in_another_language(console, people):
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    switched = await desk.form("/lang", {"locale": "en", "back": "/register"})
    assert switched.status_code == 303 and switched.headers["location"] == "/register"
    page = await desk.http.get("/register")
    assert "Register a complaint" in page.text and 'lang="en"' in page.text
    await desk.form("/lang", {"locale": "zh_Hant", "back": "/"})
    assert "工單台賬" in (await desk.http.get("/")).text


async def test_major_complaints_are_called_back_by_a_manager_not_by_telegram(console, people, sessions, clock):
    from services import satisfaction

    fixer = await people.make("张师傅", "engineering")
    await telegram_resident(sessions, 7003, "孙先生", "13600006666")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    number = await register(desk, phone="13600006666",
                            description="电梯坏了一个月没人修，再不修我就去法院起诉你们，还要找媒体曝光")
    assert (await ticket(sessions, number)).major
    holder = await people.login(fixer)
    await holder.form(f"/tickets/{number}/accept", {})
    await holder.form(f"/tickets/{number}/resolve", {"result": "已修好并致歉", "cause": "third_party",  # Ⅰ/Ⅱ: a cause
                                                     "cause_text": "电梯配件由厂家供货，延误一个月"})
    async with sessions() as session:
        pending = (await session.exec(select(CallbackAttempt))).one()
        clock.set(pending.due_at)
        policy = console.state.context.callback_policy
        assert await satisfaction.queue_due_prompts(session, policy=policy, now=clock()) == []  # no Telegram prompt
    desk = await people.login(desk.staff)
    assert number not in (await desk.http.get("/callbacks")).text
    refused = await desk.form(f"/callbacks/{number}", {"result": "5", "method": "phone"})
    assert refused.status_code == 409 and "主管或经理" in refused.text
    manager = await people.login(await people.make("刘经理", None, "manager", telegram=False))
    queue = await manager.http.get("/callbacks")
    assert number in queue.text and "重大投诉" in queue.text
    await manager.form(f"/callbacks/{number}", {"result": "4", "method": "visit"})
    assert (await ticket(sessions, number)).status == "closed"


async def test_the_agent_may_change_the_detected_category_and_severity(console, people, sessions):
    from models.tables import CategoryCorrection

    await people.make("张师傅", "engineering")
    cleaner = await people.make("李阿姨", "cleaning")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    suggestion = await desk.form("/register/suggest", {"description": LIFT})
    assert 'id="r-category"' in suggestion.text and "<label" in suggestion.text
    response = await desk.form("/register", {"channel": "visit", "name": "陈阿姨", "phone": "13900001234",
                                             "location": "5栋2单元", "description": LIFT, "category": "环境管理",
                                             "severity": "important"})
    number = NUMBER.search(response.headers["location"]).group(0)
    complaint = await ticket(sessions, number)
    assert (complaint.category, complaint.severity, complaint.assignee_id) == ("环境管理", "important", cleaner.id)
    async with sessions() as session:
        [correction] = (await session.exec(select(CategoryCorrection))).all()
    assert (correction.predicted, correction.corrected, correction.staff_id) == ("工程管理", "环境管理", desk.staff.id)


async def test_search_by_words_and_paging(console, people, sessions, monkeypatch):
    await people.make("张师傅", "engineering")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    numbers = [await register(desk, description=f"{n}号楼电梯坏了，门打不开", phone=f"1390000{n:04d}",
                              location=f"{n}栋") for n in range(1, 28)]
    first = await desk.http.get("/", params={"q": "电梯"})
    assert "共 27 张工单" in first.text and "第 1 / 2 页" in first.text and numbers[-1] in first.text
    second = await desk.http.get("/", params={"q": "电梯", "page_no": "2"})
    assert "第 2 / 2 页" in second.text and numbers[0] in second.text and numbers[-1] not in second.text
    assert "共 0 张工单" in (await desk.http.get("/", params={"q": "燃气"})).text
    # A common word stops counting at the cap and says so; the pages past it stay reachable.
    from services import desk as desk_service

    monkeypatch.setattr(desk_service, "SEARCH_COUNT_CAP", 26)
    capped = await desk.http.get("/", params={"q": "电梯"})
    assert "共 26+ 张工单" in capped.text and "第 1 / 2+ 页" in capped.text and "page_no=2" in capped.text
    last = await desk.http.get("/", params={"q": "电梯", "page_no": "2"})
    assert numbers[0] in last.text and "第 2 / 2+ 页" in last.text


async def test_search_by_words_finds_exact_phrases_only(console, people, sessions):
    await people.make("张师傅", "engineering")
    desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    lift = await register(desk, description="电梯门关不上，梯门一直响", phone="13900001111", location="7栋")
    leak = await register(desk, description="卫生间天花板漏水，Water leaking", phone="13900002222", location="8栋")
    # Every pair of 电梯门 is in the first ticket (电梯, 梯门) but the phrase is not: no match.
    assert "共 0 张工单" in (await desk.http.get("/", params={"q": "电梯门口"})).text
    found = await desk.http.get("/", params={"q": "电梯门"})
    assert "共 1 张工单" in found.text and lift in found.text and leak not in found.text
    latin = await desk.http.get("/", params={"q": "leaking"})  # LIKE keeps case: as typed
    assert "共 1 张工单" in latin.text and leak in latin.text
    one = await desk.http.get("/", params={"q": "漏"})  # one character: no pair, the plain scan
    assert "共 1 张工单" in one.text and leak in one.text
    place = await desk.http.get("/", params={"q": "8栋"})
    assert leak in place.text and lift not in place.text


async def test_search_by_words_uses_the_bigram_index_on_postgresql(console, people, sessions, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the bigram index is PostgreSQL's (SQLite scans with LIKE)")
    from services import desk as desk_service

    await people.make("张师傅", "engineering")
    agent = await people.make("前台小李", None, "desk", telegram=False)
    async with sessions() as session:
        await session.exec(sa_text("SET enable_seqscan = off"))  # a tiny table: make the planner show its choice
        statement = select(Complaint).where(sa_text(
            f"{desk_service.WORDS_DOCUMENT} @@ plainto_tsquery('simple'::regconfig, :pairs)").bindparams(
            pairs=" ".join(desk_service.word_pairs("电梯坏了"))))
        compiled = statement.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in (await session.exec(sa_text(f"EXPLAIN {compiled}"))).all())
    assert "ix_complaint_words" in plan, plan
    page = await (await people.login(agent)).http.get("/", params={"q": "电梯坏了"})
    assert page.status_code == 200 and "共 0 张工单" in page.text


def png(colour: str = "red", size: int = 64) -> bytes:
    """A real PNG picture."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class TestPhotosAtRegistration:
    FORM = {"channel": "visit", "name": "陈阿姨", "phone": "13900001234", "location": "5栋2单元",
            "description": LIFT}

    async def submit(self, desk, files, **extra):
        return await desk.http.post("/register", data={**self.FORM, **extra, "csrf_token": desk.csrf}, files=files)

    async def test_photos_are_kept_shown_and_sent_with_the_assignee_ping(self, console, people, sessions, settings):
        fixer = await people.make("张师傅", "engineering")
        desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
        red, blue = png("red"), png("blue")
        response = await self.submit(desk, [("photos", ("a.png", red, "image/png")),
                                            ("photos", ("b.png", blue, "image/png"))], draft="p1")
        assert response.status_code == 303, response.text
        number = NUMBER.search(response.headers["location"]).group(0)
        complaint = await ticket(sessions, number)
        assert len(complaint.photos) == 2 and all(ref.startswith("upload:") for ref in complaint.photos)
        page = await desk.http.get(f"/tickets/{number}")
        assert f'/tickets/{number}/photos/1"' in page.text
        assert (await desk.http.get(f"/tickets/{number}/photos/0")).content == red
        assert (await desk.http.get(f"/tickets/{number}/photos/1")).content == blue
        assert (await desk.http.get(f"/tickets/{number}/photos/2")).status_code == 404
        # The assignee's ping carries them: the renderer hands the kept files to the sender.
        from bot.i18n import catalogues
        from bot.render import Renderer

        [ping] = await notices(sessions, NoticeKind.ASSIGNED)
        async with sessions() as session:
            rendered = await Renderer(settings, catalogues()).render(session, ping)
        assert rendered.photos == complaint.photos and fixer.id == ping.recipient_id
        # Another team's staff may not fetch them.
        outsider = await people.login(await people.make("李阿姨", "cleaning"))
        assert (await outsider.http.get(f"/tickets/{number}/photos/0")).status_code == 403

    async def test_a_telegram_photo_that_cannot_be_fetched_is_a_clear_502(self, console, people, sessions,
                                                                         settings, classifier, clock):
        from services import desk as desk_service

        await people.make("张师傅", "engineering")
        agent = await people.make("前台小李", None, "desk", telegram=False)
        settings.telegram_api_base = "http://127.0.0.1:9"  # nothing listens there
        async with sessions() as session:
            filing = await desk_service.register(session, agent, desk_service.Registration(
                channel="phone", name="陈阿姨", phone="13900001234", location="5栋", description=LIFT,
                photos=("AgACAgQAAxkBAAIBfake",)), classifier=classifier, tz=settings.tz, sla=None,
                rules=console.state.context.matter_rules, now=clock())
        desk = await people.login(agent)
        assert (await desk.http.get(f"/tickets/{filing.complaint.number}/photos/0")).status_code == 502

    async def test_not_a_picture_too_many_or_too_large_are_refused_and_nothing_is_filed(
            self, console, people, sessions, settings, monkeypatch):
        await people.make("张师傅", "engineering")
        desk = await people.login(await people.make("前台小李", None, "desk", telegram=False))
        fake = await self.submit(desk, [("photos", ("a.jpg", b"%PDF-1.4 not a picture", "image/jpeg"))])
        assert fake.status_code == 422 and "不是图片" in fake.text and LIFT in fake.text
        monkeypatch.setattr(settings.intake, "photos_max", 2)
        many = await self.submit(desk, [("photos", (f"{n}.png", png(size=8 + n), "image/png")) for n in range(3)])
        assert many.status_code == 422 and "最多 2 张" in many.text
        monkeypatch.setattr(settings.intake, "photo_bytes_max", 100)
        large = await self.submit(desk, [("photos", ("big.png", png(size=256), "image/png"))])
        assert large.status_code == 422 and "太大" in large.text
        async with sessions() as session:
            assert (await session.exec(select(Complaint))).all() == []
