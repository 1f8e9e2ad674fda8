"""The month's whole ticket list streamed as CSV from the dashboard (the workbook keeps the first rows)."""

from __future__ import annotations

import csv
import io

from tests.web.test_desk_flow import register


async def test_a_manager_streams_the_ticket_list_as_csv(console, people, sessions):
    await people.make("张师傅", "engineering")
    manager = await people.login(await people.make("刘经理", None, "manager", telegram=False))
    filed = [await register(manager),
             await register(manager, description="楼下垃圾桶满了好几天没人清理，很臭", phone="13900005678")]
    async with manager.http.stream("GET", "/dashboard/tickets.csv", params={"month": "2026-11"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert 'filename="huifang-tickets-2026-11.csv"' in response.headers["content-disposition"]
        data = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the Chinese right
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:3] == ["工单编号", "提交时间", "分类"]
    assert [row[0] for row in table[1:]] == filed
    assert {row[2] for row in table[1:]} == {"工程管理", "环境管理"}
    empty = await manager.http.get("/dashboard/tickets.csv", params={"month": "2026-09"})
    assert empty.status_code == 200 and len(empty.content.decode("utf-8-sig").splitlines()) == 1
    assert (await manager.http.get("/dashboard/tickets.csv", params={"month": "2026-13"})).status_code == 409
    page = await manager.http.get("/dashboard")
    assert 'formaction="/dashboard/tickets.csv"' in page.text and "下载工单清单（CSV）" in page.text


async def test_staff_get_no_ticket_list(console, people):
    staff = await people.login(await people.make("张师傅", "engineering"))
    assert (await staff.http.get("/dashboard/tickets.csv")).status_code == 403
