"""A resident in English and one in Traditional Chinese go through intake, callback and /status,
each entirely in their own language (the staff keep Simplified Chinese)."""

from __future__ import annotations

import re

import pytest
from opencc import OpenCC

from tests.e2e.callbacks_fast import FAST
from tests.e2e.conftest import make_settings, running_app
from tests.e2e.flows import TICKET, onboard, resolve, text

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u3400-\u9fff]")
IN_PARENTHESES = re.compile(r"\([^()]*\)")  # procedure terms keep their Chinese in parentheses in English
TO_TRADITIONAL = OpenCC("s2tw")


def leftovers(message_text: str, typed: list[str]) -> str:
    """What is left of a bot message once the resident's own words are taken out."""
    for words in typed:
        message_text = message_text.replace(words, "")
    return message_text


@pytest.fixture
async def desk(sandbox, client, sqlite_url, classifier):
    """One worker in engineering, one in customer service (where a message the Chinese lexicon does
    not recognise, e.g. English, is routed)."""
    async with running_app(make_settings(sandbox, sqlite_url, **FAST), classifier) as app:
        yield app, {"engineering": await onboard(app, client, 9401, "張師傅", "engineering"),
                    "service": await onboard(app, client, 9402, "Chen", "service")}


async def full_journey(client, worker, resident, locale: str, typed: dict[str, str]) -> list[str]:
    """Intake → receipt → handled by staff → callback answered → /status; returns every bot message."""
    await resident.send("/start")
    await resident.next_message()
    await resident.press(text("btn_new", locale))
    await resident.next_message()
    await resident.send(typed["description"])
    await resident.next_message()
    await resident.send(typed["location"])
    await resident.next_message()
    await resident.tap(text("btn_share_phone", locale))
    await resident.next_message()
    summary = await resident.next_message()
    await resident.press(text("btn_submit", locale), summary)
    receipt = await resident.next_message()
    number = TICKET.search(receipt.text).group(0)
    await worker.expect(number)
    await worker.send(f"/accept {number}")
    await worker.expect("已接单")
    await resolve(worker, number, typed["result"])  # Ⅰ/Ⅱ: the cause is asked first
    rating = f"5 {text('rating.5', locale)}"
    prompt = await resident.next_message(timeout=15)  # accepted, resolved, then the satisfaction prompt
    while rating not in prompt.button_texts():
        prompt = await resident.next_message(timeout=15)
    await resident.press(rating, prompt)
    thanks = await resident.next_message()
    assert number in thanks.text
    await resident.send(f"/status {number}")
    card = await resident.expect(number)
    assert typed["location"] in card.text
    return [m.text or m.caption or "" for m in await resident.messages()] + [
        b for m in await resident.messages() for b in m.button_texts()]


class TestEnglish:
    async def test_whole_journey_in_english(self, desk, client):
        app, workers = desk
        worker = workers["service"]
        typed = {"description": "The lift in building 3 is broken again, nobody came to repair it",
                 "location": "Building 3, unit 1", "result": "Replaced the lift control board"}
        resident = client.user(5801, first_name="Lily", phone="13900002222", language_code="en")
        seen = await full_journey(client, worker, resident, "en", typed)
        assert any("Thank you" in t or "thank" in t.lower() for t in seen)
        foreign = [t for t in seen if HAN.search(IN_PARENTHESES.sub("", leftovers(t, list(typed.values()))))]
        assert foreign == []


class TestTraditional:
    async def test_whole_journey_in_traditional_characters(self, desk, client):
        app, workers = desk
        worker = workers["engineering"]
        typed = {"description": "3棟的電梯又壞了，一直沒人來修", "location": "3棟1單元", "result": "已更換電梯按鈕"}
        resident = client.user(5802, first_name="陳大文", phone="13900003333", language_code="zh-TW")
        seen = await full_journey(client, worker, resident, "zh_Hant", typed)
        simplified = [t for t in seen if TO_TRADITIONAL.convert(t) != t]
        assert simplified == []
        assert any("處理" in t for t in seen)
