"""On PostgreSQL + Redis, the intake's steps before the confirmation open no database transaction
for a returning resident: the last location is read on its own (models.db.reading), the
conversation lives in Redis; only the filing writes."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import file_complaint, text
from tests.statements import simple_queries

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


class TestReturningResident:
    async def test_steps_before_the_confirmation_take_no_transaction(self, sandbox, client, postgres_url,
                                                                     redis_url, classifier):
        settings = make_settings(sandbox, postgres_url, redis_url=redis_url)
        async with running_app(settings, classifier, with_scheduler=False):
            resident = client.user(5101, first_name="王芳", phone="13812345678")
            await file_complaint(resident, "电梯按钮失灵了", location="8栋3单元")
            await file_complaint(resident, "楼道灯不亮", location="8栋3单元")
            with simple_queries() as queries:
                await resident.send("8栋的路灯不亮了")
                prompt = await resident.expect("在哪里")
                await resident.send("8栋门口")
                await resident.expect("联系方式")
                await resident.tap(text("btn_share_phone"))
                await resident.expect("请确认")
            assert prompt.button_texts() == ["📍 8栋3单元"]  # read, on its own
            assert queries == []
            await resident.press("确认提交")
            await resident.expect("工单号")
