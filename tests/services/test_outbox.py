"""The outbox's claim on SQLite and PostgreSQL: due notices taken in one statement, in order, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services import outbox
from services.notices import NoticeKind, to_staff
from tests.statements import recorded

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


class TestClaim:
    async def test_due_notices_come_back_claimed_from_one_update(self, sessions, engine):
        async with sessions() as session:
            await session.begin()
            outbox.put(session, [to_staff(NoticeKind.ASSIGNED, 7, None, header="assign"),
                                 to_staff(NoticeKind.QUEUE, 8, None),
                                 to_staff(NoticeKind.STAFF_UNREACHABLE, 9, None, name="张师傅")], NOW)
            await session.commit()
        with recorded(engine) as statements:
            async with sessions() as session:
                rows = await outbox.claim(session, worker="w1", now=NOW, lease=LEASE)
        assert [(row.kind, row.recipient_id, row.state, row.tries, row.claimed_by) for row in rows] == [
            ("assigned", 7, "claimed", 1, "w1"), ("queue", 8, "claimed", 1, "w1"),
            ("staff_unreachable", 9, "claimed", 1, "w1")]
        assert rows[0].params == {"header": "assign"} and rows[2].params == {"name": "张师傅"}
        assert [row.id for row in rows] == sorted(row.id for row in rows)
        assert len(statements) == 1 and statements[0].startswith("UPDATE outbox"), statements
        async with sessions() as session:
            assert await outbox.claim(session, worker="w2", now=NOW, lease=LEASE) == []  # in hand
            again = await outbox.claim(session, worker="w2", now=NOW + LEASE * 2, lease=LEASE)  # lease ran out
            assert [(row.recipient_id, row.tries, row.claimed_by) for row in again] == [
                (7, 2, "w2"), (8, 2, "w2"), (9, 2, "w2")]
