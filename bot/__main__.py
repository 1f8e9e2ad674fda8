"""``python -m bot`` runs the bot; with a subcommand, the command line (:mod:`bot.cli`, ``--help``).

Plain ``python -m bot`` and ``python -m bot run [-v]`` go straight to :func:`bot.runner.run_bot`:
the running bot never needs the command-line library (typer, click, rich).
"""

from __future__ import annotations

import sys

_VERBOSE = ("-v", "--verbose")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    plain = args[1:] if args[:1] == ["run"] else args
    if all(arg in _VERBOSE for arg in plain) and len(plain) <= 1:
        from bot.runner import run_bot

        raise SystemExit(run_bot(verbose=bool(plain)))
    from bot.cli import app

    app(args=args)


if __name__ == "__main__":
    main()
