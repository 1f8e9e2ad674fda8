"""The desk's web console: FastAPI routes over the same use cases (services/) as the bot."""

from web.main import WebContext, create_app

__all__ = ["WebContext", "create_app"]
