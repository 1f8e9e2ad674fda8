"""Files residents sent in Telegram, fetched for the desk console (a ticket's photos).

The Bot API gives a file's path for its ``file_id`` (getFile), then serves the bytes; both go
through the configured API server (Telegram, or the sandbox). A fetched file is kept in
``MEDIA_DIR/telegram`` under a hash of its ``file_id``, so a ticket page opened again costs nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx

from bot.settings import Settings

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
FILE_MAX = 20_000_000  # the Bot API serves files up to 20 MB


class FileUnavailable(Exception):
    """The file cannot be fetched now (no token, Telegram unreachable, file too old or too big)."""


async def telegram_file(settings: Settings, file_id: str) -> Path:
    """The file of a Telegram ``file_id`` on disk (fetched once)."""
    folder = Path(settings.media_dir) / "telegram"
    kept = folder / hashlib.sha256(file_id.encode()).hexdigest()
    if kept.is_file():
        return kept
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if not token:
        raise FileUnavailable("no BOT_TOKEN")
    base = settings.telegram_api_base.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            found = (await http.get(f"{base}/bot{token}/getFile", params={"file_id": file_id})).json()
            if not found.get("ok") or not found["result"].get("file_path"):
                raise FileUnavailable(found.get("description", "getFile failed"))
            if (found["result"].get("file_size") or 0) > FILE_MAX:
                raise FileUnavailable("file too big for the Bot API")
            response = await http.get(f"{base}/file/bot{token}/{found['result']['file_path']}")
            response.raise_for_status()
    except (httpx.HTTPError, ValueError, KeyError) as error:
        raise FileUnavailable(str(error).replace(token, "…")) from None
    folder.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".part")
    partial.write_bytes(response.content)
    os.replace(partial, kept)
    return kept
