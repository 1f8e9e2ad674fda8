"""Running the bot (``python -m bot`` / ``python -m bot run``): settings, migration, logging, serve.

Kept apart from the command line (:mod:`bot.cli`) so that starting the bot does not load typer.
"""

from __future__ import annotations

import logging
import os
import sys

TOKEN_HELP = """\
BOT_TOKEN is not set, so the bot cannot talk to Telegram.

How to get a token:
  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username ending in "bot"; BotFather replies with a token
     like 123456789:AA...
  3. Put it in a file named .env in this folder:   BOT_TOKEN=123456789:AA...
     (or export BOT_TOKEN=... in your shell), then run `make run` again.

No token yet? `make demo` runs the bot against the built-in Telegram sandbox and prints a
resident filing a complaint, with no network needed.
"""


def configure_logging(verbose: bool = False) -> None:
    from bot.logs import configure

    configure(level=logging.DEBUG if verbose else logging.INFO,
              fmt="json" if os.environ.get("LOG_FORMAT", "").lower() == "json" else "text")


def run_bot(*, verbose: bool = False) -> int:
    """Migrate the database and run the bot with long polling (or its webhook); the exit code."""
    from bot import migration
    from bot.settings import Settings

    settings = Settings()
    token = settings.bot_token.get_secret_value().strip() if settings.bot_token is not None else ""
    # the migration (a child process) runs while this process imports the bot
    migrating = migration.start(settings.database_url) if token else None

    from bot.app import HuifangApp, MissingToken

    configure_logging(verbose)
    try:
        huifang = HuifangApp(settings, migration=migrating)
    except MissingToken:
        print(TOKEN_HELP, file=sys.stderr)
        return 2

    async def _main() -> None:
        try:
            await huifang.run()
        finally:
            await huifang.stop()

    from bot import loop

    loop.run(_main())  # asyncio's loop, or uvloop with HUIFANG_EVENT_LOOP=uvloop
    return 0
