"""Console: the owner of a major complaint on the ticket page and the board, the reply to the
residents, linked tickets, early warnings, and the monthly report's review and approval."""

from __future__ import annotations

from sqlmodel import col, select

from models.tables import EarlyWarning, OutboxNotice, ReportRun
from services import review
from services.notices import NoticeKind
from tests.web.test_desk_flow import register, ticket

LAWSUIT = "电梯坏了一个月没人修，再不修我就去法院起诉物业"


async def kinds(sessions, kind: NoticeKind) -> list[OutboxNotice]:
    async with sessions() as session:
        return list((await session.exec(select(OutboxNotice).where(OutboxNotice.kind == kind.value)
                                        .order_by(col(OutboxNotice.id)))).all())


async def test_owner_deadlines_and_reply_on_the_ticket_page_and_the_board(console, people, sessions, clock):
    await people.make("张师傅", "engineering")
    owner = await people.make("刘经理", None, "manager")
    manager = await people.login(owner)
    number = await register(manager, description=LAWSUIT)
    row = await ticket(sessions, number)
    assert row.major and row.major_owner_id == owner.id and row.major_at == clock()
    assert [n.recipient_id for n in await kinds(sessions, NoticeKind.MAJOR_OWNER)] == [owner.id]

    page = (await manager.http.get(f"/tickets/{number}")).text
    assert "负责人" in page and 'class="major-owner">刘经理' in page
    assert "11-30 10:00" in page  # first reply due: 2 working days after Thursday 10:00
    assert "12-06 10:00" in page  # resolution due: 10 days
    assert f'action="/tickets/{number}/reply"' in page
    board = (await manager.http.get("/")).text
    assert "重大" in board and "负责人: 刘经理" in board
    figures = (await manager.http.get("/dashboard")).text
    assert "专项指标" in figures and f'{number}</a> 负责人: 刘经理' in figures and "有效投诉按类型" in figures

    sent = await manager.form(f"/tickets/{number}/reply", {"text": "已联系电梯厂家，周三前修复，深表歉意"})
    assert sent.status_code == 303
    row = await ticket(sessions, number)
    assert row.major_replied_at == clock()
    [reply] = await kinds(sessions, NoticeKind.MAJOR_REPLY)
    assert (reply.recipient_id, reply.params) == (row.resident_id, {"note": "已联系电梯厂家，周三前修复，深表歉意"})
    assert "已答复" in (await manager.http.get(f"/tickets/{number}")).text


async def test_reply_refused_to_staff_and_on_ordinary_tickets(console, people, sessions):
    worker = await people.make("张师傅", "engineering")
    manager = await people.login(await people.make("刘经理", None, "manager"))
    major = await register(manager, description=LAWSUIT)
    ordinary = await register(manager, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")
    assert f'action="/tickets/{ordinary}/reply"' not in (await manager.http.get(f"/tickets/{ordinary}")).text
    refused = await manager.form(f"/tickets/{ordinary}/reply", {"text": "好的"})
    assert refused.status_code == 409 and "不是重大投诉" in refused.text
    holder = await people.login(worker)
    assert f'action="/tickets/{major}/reply"' not in (await holder.http.get(f"/tickets/{major}")).text
    assert (await holder.form(f"/tickets/{major}/reply", {"text": "好的"})).status_code == 409
    assert (await ticket(sessions, major)).major_replied_at is None


async def test_early_warning_form_and_list(console, people, sessions, clock):
    await people.make("周经理", None, "manager")
    manager = await people.login(await people.make("刘经理", None, "manager"))
    number = await register(manager)
    page = await manager.http.get("/warnings")
    assert page.status_code == 200 and "投诉预警" in page.text and "暂无投诉预警" in page.text
    empty = await manager.form("/warnings", {"matter": "", "advice": "x", "notified": "y"})
    assert empty.status_code == 409 and "请写明预警的事项" in empty.text
    saved = await manager.form("/warnings", {"matter": "5栋电梯近期多次停运，可能引发群诉",
                                             "advice": "已联系厂家，周三前更换主板", "notified": "楼长、业委会",
                                             "numbers": number})
    assert saved.status_code == 303
    listing = (await manager.http.get("/warnings?saved=1")).text
    assert "5栋电梯近期多次停运" in listing and "楼长、业委会" in listing and "投诉预警已记录" in listing
    async with sessions() as session:
        [warning] = (await session.exec(select(EarlyWarning))).all()
    assert warning.complaint_ids == [(await ticket(sessions, number)).id] and warning.at == clock()
    assert len(await kinds(sessions, NoticeKind.EARLY_WARNING)) == 1  # the other manager
    worker = await people.login(await people.make("张师傅", "engineering"))
    assert (await worker.http.get("/warnings")).status_code == 403


async def test_report_draft_reviewed_and_approved_in_the_console(console, people, sessions, clock):
    reviewer = await people.make("刘经理", None, "manager")
    await people.make("周经理", None, "manager")
    manager = await people.login(reviewer)
    async with sessions() as session:
        assert len(await review.make_draft(session, "2026-10", clock())) == 2
    page = (await manager.http.get("/dashboard")).text
    assert "待审核：2026-10" in page and 'action="/dashboard/review/2026-10"' in page
    saved = await manager.form("/dashboard/review/2026-10", {"summary": "原因：电梯老化", "action": "save"})
    assert saved.status_code == 303
    assert "原因：电梯老化</textarea>" in (await manager.http.get("/dashboard")).text
    assert await kinds(sessions, NoticeKind.MONTHLY_REPORT) == []  # nothing sent before the approval

    approved = await manager.form("/dashboard/review/2026-10", {"summary": "原因：电梯老化。整改：更换主板",
                                                                "action": "approve"})
    assert approved.status_code == 303
    async with sessions() as session:
        run = await session.get(ReportRun, "2026-10")
    assert (run.status, run.summary, run.approved_by_id, run.sent_at) == (
        "sent", "原因：电梯老化。整改：更换主板", reviewer.id, clock())
    assert len(await kinds(sessions, NoticeKind.MONTHLY_REPORT)) == 2
    assert "待审核" not in (await manager.http.get("/dashboard")).text
    again = await manager.form("/dashboard/review/2026-10", {"summary": "", "action": "approve"})
    assert again.status_code == 409 and "没有待审核的报告草稿" in again.text


async def test_desk_agents_do_not_review(console, people, sessions, clock):
    await people.make("刘经理", None, "manager")
    agent = await people.login(await people.make("前台小李", None, "desk", telegram=False))
    async with sessions() as session:
        await review.make_draft(session, "2026-10", clock())
    assert "待审核" not in (await agent.http.get("/dashboard")).text
    refused = await agent.form("/dashboard/review/2026-10", {"summary": "x", "action": "approve"})
    assert refused.status_code == 409
    async with sessions() as session:
        assert (await session.get(ReportRun, "2026-10")).status == "draft"
