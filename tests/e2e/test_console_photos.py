"""A resident's Telegram photos on the desk console's ticket page: fetched once from the Bot API
(the sandbox here), then served from MEDIA_DIR; uploaded ones straight from it."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from services import staff as staff_service
from services import web_auth
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import TICKET, onboard, text
from tests.e2e.test_console import free_port


async def test_the_desk_sees_the_photos_a_resident_sent_in_telegram(sandbox, client, sqlite_url, classifier,
                                                                   tmp_path):
    port = free_port()
    media = tmp_path / "media"
    settings = make_settings(sandbox, sqlite_url, web_port=port, media_dir=str(media))
    async with running_app(settings, classifier) as app:
        await onboard(app, client, 6201, "张师傅", "engineering")
        resident = client.user(5301, first_name="王芳", phone="13812345678")
        await resident.send("/new")
        await resident.expect("请描述")
        await resident.send_photo(caption="地下车库顶棚漏水，车上全是水")
        await resident.expect("在哪里")
        await resident.send_photo()
        await resident.next_message()
        await resident.send("地下车库B区")
        await resident.expect("联系方式")
        await resident.tap(text("btn_share_phone"))
        await resident.press("确认提交", await resident.expect("请确认"))
        number = TICKET.search((await resident.expect("工单号")).text).group(0)

        async with app.sessions() as session:
            agent, _code = await staff_service.create_invite(session, name="前台小李", team_code=None, role="desk",
                                                             now=app.clock())
            token = await web_auth.create_login_link(session, agent, now=app.clock())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as desk:
            assert (await desk.post(f"/login/{token}")).status_code == 303
            page = await desk.get(f"/tickets/{number}")
            assert f'src="/tickets/{number}/photos/0"' in page.text and f'/tickets/{number}/photos/1"' in page.text
            first = await desk.get(f"/tickets/{number}/photos/0")
            assert first.status_code == 200 and first.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(first.content)) as picture:
                assert picture.format == "PNG" and picture.size[0] > 0
            [kept] = list((media / "telegram").iterdir())  # fetched once, kept
            assert kept.read_bytes() == first.content
            assert (await desk.get(f"/tickets/{number}/photos/0")).content == first.content
            assert (await desk.get(f"/tickets/{number}/photos/1")).status_code == 200
            assert len(list((media / "telegram").iterdir())) == 2
            assert (await desk.get(f"/tickets/{number}/photos/9")).status_code == 404
