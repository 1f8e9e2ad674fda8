"""e2e fixtures: the sandbox over real HTTP, the real bot polling it, users acting through the control API."""

from __future__ import annotations

import contextlib

import pytest

from bot.app import HuifangApp
from bot.settings import RateSettings, Settings
from sandbox import SandboxClient, SandboxServer
from tests.clock import E2E_START, FlowingClock

TOKEN = "123456:TEST-sandbox-token"


@pytest.fixture
async def client(sandbox):
    async with SandboxClient(sandbox.base_url) as client:
        yield client


# The sandbox enforces no flood limits unless a test turns them on, so conversations need not
# wait a second per reply; tests about pacing pass the production rates explicitly.
FAST_RATES = RateSettings(private_per_second=50, private_burst=50, overall_per_second=200, overall_burst=50)


def make_settings(sandbox: SandboxServer, database_url: str, **overrides) -> Settings:
    overrides.setdefault("rate", FAST_RATES)
    overrides.setdefault("report_day", 0)  # the monthly report has its own test
    overrides.setdefault("web_port", 0)  # the console has its own tests (tests/web)
    return Settings(
        bot_token=TOKEN,
        telegram_api_base=sandbox.base_url,
        database_url=database_url,
        polling_timeout=5,
        _env_file=None,
        **overrides,
    )


@pytest.fixture
def bot_settings(sandbox, sqlite_url) -> Settings:
    return make_settings(sandbox, sqlite_url)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, classifier, **kwargs):
    """A started bot that is stopped again however the test ends. Its clock starts on a pinned
    Thursday morning (tests.clock.E2E_START) unless the test brings its own."""
    kwargs.setdefault("clock", FlowingClock(E2E_START))
    app = HuifangApp(settings, classifier=classifier, **kwargs)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def bot_app(bot_settings, classifier):
    async with running_app(bot_settings, classifier) as app:
        yield app


@pytest.fixture
def resident(client, bot_app):
    """A resident with a phone on their Telegram account, the bot already running."""
    return client.user(5001, first_name="王芳", phone="13812345678")
