"""models.rows.new_row: the same object as the table model's constructor, stored and tracked alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from models.rows import new_row
from models.tables import Complaint, ComplaintEvent, OutboxNotice, Resident

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
EVENT = dict(complaint_id=1, at=NOW, actor="resident", actor_id=5, action="created", to_status="new", data={"a": 1})


def fields(row: SQLModel) -> dict:
    return {key: value for key, value in row.__dict__.items() if key != "_sa_instance_state"}


class TestSameObject:
    @pytest.mark.parametrize("model, values", [
        (ComplaintEvent, EVENT),
        (ComplaintEvent, dict(complaint_id=2, at=NOW, actor="system", action="queue")),  # defaults, data's factory
        (OutboxNotice, dict(kind="assigned", audience="staff", recipient_id=3, complaint_id=4, params={"x": "y"},
                            created_at=NOW, due_at=NOW)),
        (Complaint, dict(description="3栋电梯坏了", location="3栋", number="20261126-001", resident_id=1,
                         category="elevator", kind="complaint", severity="normal", status="new",
                         created_at=NOW, updated_at=NOW, keywords=[{"term": "电梯"}], flags=["group"])),
    ])
    def test_fields_defaults_and_pydantic_state_as_the_constructor_sets_them(self, model, values):
        built, fast = model(**values), new_row(model, **values)
        assert fast.__pydantic_fields_set__ == built.__pydantic_fields_set__ == set(values)
        assert fields(fast) == fields(built)
        assert fast.model_dump() == built.model_dump()
        assert (fast.__pydantic_extra__, fast.__pydantic_private__) == (built.__pydantic_extra__,
                                                                          built.__pydantic_private__)
        assert inspect(fast).transient

    def test_default_factories_give_each_row_its_own_value(self):
        first, second = (new_row(ComplaintEvent, complaint_id=1, at=NOW, actor="system", action="x") for _ in range(2))
        assert first.data == second.data == {}
        first.data["changed"] = True
        assert second.data == {}

    def test_an_unknown_field_is_refused(self):
        with pytest.raises(TypeError, match="no field colour"):
            new_row(ComplaintEvent, complaint_id=1, actor="system", action="x", colour="red")

    def test_a_model_without_a_table_is_refused(self):
        class NotATable(SQLModel):
            name: str = ""

        with pytest.raises(TypeError, match="not a table model"):
            new_row(NotATable, name="x")


class TestStored:
    async def test_inserted_with_its_values_and_later_changes_tracked(self, sessions):
        async with sessions() as session:
            resident = new_row(Resident, telegram_id=77, chat_id=77, name="李四", created_at=NOW)
            session.add(resident)
            await session.commit()
            resident.phone = "13800000000"  # an UPDATE of a row that new_row built
            session.add(resident)
            await session.commit()
            resident_id = resident.id
        async with sessions() as session:
            stored = (await session.exec(select(Resident).where(Resident.id == resident_id))).one()
            assert (stored.telegram_id, stored.name, stored.phone, stored.unreachable) == (77, "李四", "13800000000",
                                                                                          False)
            assert stored.created_at == NOW
