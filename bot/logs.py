"""Logging set-up: plain lines or JSON lines (LOG_FORMAT=json), with phone numbers and bot tokens
masked in every record, whatever library wrote it."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_TOKEN = re.compile(r"(?<!\d)(\d{5,12}):[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """138****5678 for mobile numbers; <id>:*** for bot tokens (e.g. in Bot API URLs)."""
    return _TOKEN.sub(r"\1:***", _PHONE.sub(r"\1****\2", text))


class Redacting(logging.Filter):
    """Masks the message (with its arguments) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(*, level: int = logging.INFO, fmt: str = "text") -> None:
    """The process's logging: every record masked; ``fmt`` "json" for JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(Redacting())
    handler.setFormatter(JsonLines() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
