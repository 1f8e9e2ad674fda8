"""Application settings, read from the environment and an optional ``.env`` file.

Flat names (``BOT_TOKEN``, ``DATABASE_URL`` …) are the documented interface; nested sections
use ``__`` as delimiter (e.g. ``SLA__URGENT_RESPONSE=15min``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

OFFICIAL_API_BASE = "https://api.telegram.org"


class IntakeSettings(BaseModel):
    """Limits of the resident intake dialogue."""

    description_max: int = 2000
    location_max: int = 200
    photos_max: int = 10


class SlaSettings(BaseModel):
    """Response and resolution allowances per severity (SPEC "Severity")."""

    urgent_response: Duration = timedelta(minutes=30)
    urgent_resolve: Duration = timedelta(hours=72)
    important_response: Duration = timedelta(hours=4)
    important_resolve_days: int = 5
    general_response: Duration = timedelta(hours=8)
    general_resolve_days: int = 3


class RateSettings(BaseModel):
    """Outgoing message pacing (Telegram: ~30/s overall, ~1/s per chat, 20/min per group)."""

    overall_per_second: float = 30
    overall_burst: int = 5
    private_per_second: float = 1
    private_burst: int = 2
    group_per_minute: float = 20


class Settings(BaseSettings):
    """Everything the bot needs to run; every timing is configurable."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    bot_token: SecretStr | None = None
    telegram_api_base: str = OFFICIAL_API_BASE
    database_url: str = "sqlite+aiosqlite:///./data/huifang.db"
    redis_url: str | None = Field(
        default=None, description="If set, conversation state and locks live in Redis."
    )
    timezone: str = "Asia/Shanghai"
    polling_timeout: int = 30
    lexicon_path: str | None = None
    bot_username: str | None = Field(
        default=None, description="For invite links when the CLI cannot ask Telegram (getMe)."
    )
    invite_ttl: Duration = timedelta(days=3)

    intake: IntakeSettings = IntakeSettings()
    sla: SlaSettings = SlaSettings()
    rate: RateSettings = RateSettings()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the plain URLs people paste and pick the async driver for them.
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def uses_sandbox(self) -> bool:
        return self.telegram_api_base.rstrip("/") != OFFICIAL_API_BASE
