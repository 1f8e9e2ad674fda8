"""The desk's web console: FastAPI routes over the same use cases (services/) as the bot.

``WebContext`` and ``create_app`` are imported from :mod:`web.main` at first use, so that
importing :mod:`web.server` (the bot does, at start) does not import FastAPI."""

__all__ = ["WebContext", "create_app"]


def __getattr__(name: str):
    if name in __all__:
        from web import main

        return getattr(main, name)
    raise AttributeError(f"module 'web' has no attribute {name!r}")
