"""Logs carry no phone numbers or bot tokens, in text or JSON lines."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonLines, Redacting, redact


def test_phones_and_tokens_are_masked():
    line = "sendMessage https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x to 13812345678"
    assert redact(line) == "sendMessage https://api.telegram.org/bot123456:***/x to 138****5678"
    assert redact("ticket TS20261126-0001, landline 0755-12345678") == "ticket TS20261126-0001, landline 0755-12345678"


def test_json_lines_are_redacted_too():
    record = logging.LogRecord("bot", logging.WARNING, __file__, 1, "resident %s unreachable", ("13900001111",), None)
    Redacting().filter(record)
    entry = json.loads(JsonLines().format(record))
    assert entry["message"] == "resident 139****1111 unreachable" and entry["level"] == "WARNING"
