"""``python -m bot classify --learn``: turn stored staff corrections into a lexicon overlay."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from services import handling
from services.classify import OVERLAY_ENV, learn_weights, load_lexicon, write_overlay

DEFAULT_OVERLAY = Path("data/lexicon-overlay.toml")


async def learn_from_corrections(*, overlay: Path | None, out: TextIO, settings: Settings | None = None) -> int:
    """Read corrections, propose weights, write (merge) the overlay; print what changed."""
    settings = settings or Settings()
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await handling.corrections(session)
    finally:
        await engine.dispose()
    if not rows:
        out.write("no category corrections stored yet: staff make them with the 🏷 category button\n")
        return 0
    target = overlay or Path(os.environ.get(OVERLAY_ENV) or DEFAULT_OVERLAY)
    lexicon = load_lexicon(settings.lexicon_path, overlay=target if target.exists() else False)
    adjustments = learn_weights([(r.text, r.predicted, r.corrected) for r in rows], lexicon)
    changed = sum(len(terms) for category in adjustments.get("category", {}).values()
                  for terms in category.values())
    if not changed:
        out.write(f"{len(rows)} correction(s): the current weights already agree, nothing to write\n")
        return 0
    write_overlay(adjustments, target)
    out.write(f"{len(rows)} correction(s) → {changed} weight(s) written to {target}\n")
    out.write(f"the bot uses it after a restart with {OVERLAY_ENV}={target}\n")
    return 0
