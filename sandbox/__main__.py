"""Run the Telegram sandbox standalone: ``python -m sandbox --port 8081`` (Ctrl-C to stop)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import SandboxServer


async def _serve(args: argparse.Namespace) -> None:
    """Start the server and sleep until cancelled."""
    server = SandboxServer(
        bot_token_check=args.token_check,
        bot_username=args.bot_username,
        bot_id=args.bot_id,
        rate_limits=args.rate_limits,
    )
    base_url = await server.start(args.host, args.port)
    print(f"Telegram sandbox listening on {base_url}", flush=True)
    print(f"  Bot API:     {base_url}/bot<token>/<method>", flush=True)
    print(f"  Control API: {base_url}/control/...", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-username", default="huifang_bot")
    parser.add_argument("--bot-id", type=int, default=7000000001)
    parser.add_argument("--rate-limits", action="store_true", help="enforce Telegram-like flood limits")
    parser.add_argument("--token-check", action="store_true", help="require <bot_id>:<secret> tokens")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
