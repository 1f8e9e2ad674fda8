"""Application settings, read from the environment and an optional ``.env`` file.

Flat names (``BOT_TOKEN``, ``DATABASE_URL`` …) are the documented interface; nested sections
use ``__`` as delimiter (e.g. ``SLA__URGENT_RESPONSE=15min``).
"""

from __future__ import annotations

from datetime import time, timedelta
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
    photo_bytes_max: int = 10_000_000  # one photo uploaded at the console


class SlaSettings(BaseModel):
    """Response and resolution allowances per severity (SPEC "Severity")."""

    urgent_response: Duration = timedelta(minutes=30)
    urgent_resolve: Duration = timedelta(hours=72)
    important_response: Duration = timedelta(hours=4)
    important_resolve_days: int = 5
    general_response: Duration = timedelta(hours=8)
    general_resolve_days: int = 3
    general_complex_resolve_days: int = 7  # a Ⅲ ticket marked complex (the resident is told)
    remind_at: float = Field(default=0.8, gt=0, lt=1)  # remind the assignee at this share of the time
    # 处理方案: Ⅰ plans within 24 h (wall clock, like Ⅰ's other deadlines), Ⅱ within 2 working days (48 h)
    urgent_plan: Duration = timedelta(hours=24)
    important_plan_days: int = Field(default=2, ge=0)
    # 整改措施: the owner is reminded this long before the due date; overdue → the supervisor (managers)
    action_remind_before: Duration = timedelta(days=1)


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
    # Webhook mode (several processes behind a load balancer): set WEBHOOK_URL; without it, long polling.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1:8081"  # host:port the webhook server binds; the path comes from WEBHOOK_URL
    webhook_claim_lease: Duration = timedelta(seconds=60)  # an update claimed this long ago by a dead process is retaken
    # The desk's web console (web/): served by the bot's process; WEB_PORT=0 turns it off.
    media_dir: str = "data/media"  # photos uploaded at the console
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    web_base_url: str | None = None  # how people reach it (login links); default http://WEB_HOST:WEB_PORT
    web_login_ttl: Duration = timedelta(minutes=10)  # a /web login link works once within this time
    web_session_ttl: Duration = timedelta(hours=12)
    # Residents who left every Telegram callback prompt unanswered are called by phone from the console.
    callback_phone_fallback: bool = True
    # Major complaints (重大投诉) called back from the console by a supervisor or manager instead of a
    # Telegram prompt (SPEC "Satisfaction callback"); off by default until the deployments opt in.
    callback_major_by_phone: bool = True
    timezone: str = "Asia/Shanghai"
    polling_timeout: int = 30
    # Long polling confirms the updates it holds at once, keeping them in a journal (Redis with
    # REDIS_URL, else the database) until handled; off: the offset waits for the oldest in hand.
    polling_journal: bool = True
    polling_journal_flush: Duration = timedelta(seconds=1)  # handled updates leave the journal by then
    # Database connections kept open per process (plus up to 10 more while busy): updates are
    # handled concurrently, and a connection opened and closed per update costs more than the update.
    db_pool_size: int = 15
    lexicon_path: str | None = None
    # The classifier's learned model (services.classify.model): where --learn and the scheduled
    # retrain write it ("off" = the lexicon alone), the labelled TSV files it is trained on
    # (comma-separated; empty = the statistics stored in the shipped model) and when it is
    # retrained each day if staff made new category corrections ("off" = never).
    classifier_model_path: str = "data/classifier-model.json"
    classifier_training_path: str | None = None
    classifier_retrain_at: time | None = time(3, 0)
    bot_username: str | None = Field(
        default=None, description="For invite links when the CLI cannot ask Telegram (getMe)."
    )
    invite_ttl: Duration = timedelta(days=3)

    # Working time for SLA deadlines (urgent tickets count wall-clock time).
    work_hours: str = "09:00-18:00"
    progress_nudge_after: Duration = timedelta(hours=24)  # in handling without a note → nudge
    major_after: Duration = timedelta(days=7)  # still unresolved after this → major
    major_reply: Duration = timedelta(days=2)  # 重大投诉: first reply to the resident within (working time)
    major_resolve: Duration = timedelta(days=10)  # 重大投诉: resolved within (calendar time)
    major_owner: str | None = None  # 重大投诉 owner: a manager's id or name; empty = the first manager
    matter_window: Duration = timedelta(days=30)  # same matter from different residents within…
    matter_residents: int = Field(default=3, ge=2)  # …this many residents → major
    matter_similarity: float = Field(default=0.3, gt=0, le=1)  # keyword overlap (Jaccard) for "same matter"

    # Monthly complaint analysis report (月度投诉分析报告) to managers.
    # The report is due by the 10th (seeds: 每月10日前): day 1..10 of the month, 0 = no scheduled report.
    report_day: int = 1
    report_time: time = time(9, 0)
    # Rows of the report's ticket-list sheet (env REPORT_LIST_ROWS); the whole list is the CSV
    # (console download, ``python -m bot report --csv``).
    report_list_rows: int = Field(default=10_000, ge=0, le=1_048_573)
    report_review: bool = True  # the report is a draft until a manager approves it (false: sent at once)

    # Satisfaction callbacks (满意度回访); empty CALLBACK_SLOTS = any time of day.
    callback_slots: str = "09:00-12:00,14:00-17:30,18:30-20:00"
    callback_delay: Duration = timedelta(days=1)
    callback_answer_timeout: Duration = timedelta(hours=4)
    callback_max_attempts: int = Field(default=3, ge=1, le=10)
    scheduler_tick: Duration = timedelta(seconds=30)
    delivery_poll: Duration = timedelta(seconds=1)  # how often the outbox is read for other processes' notices
    delivery_lease: Duration = timedelta(seconds=60)  # a notice claimed longer ago (its process died) is sent again
    close_no_callback_after: Duration = timedelta(days=7)
    close_unreachable_after: Duration = timedelta(days=15)

    # Records are kept this long after a ticket is finished, then anonymised (daily at RETENTION_AT).
    retention: Duration = timedelta(days=3 * 365)
    retention_at: time = time(3, 30)

    intake: IntakeSettings = IntakeSettings()
    sla: SlaSettings = SlaSettings()
    rate: RateSettings = RateSettings()

    @field_validator("classifier_retrain_at", mode="before")
    @classmethod
    def _retrain_off(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none", "never"):
            return None
        return value

    @field_validator("report_day")
    @classmethod
    def _report_by_the_tenth(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError(f"REPORT_DAY must be a day from 1 to 10 (the report is due by the 10th), "
                             f"or 0 for no scheduled report; got {value}")
        return value

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

    @field_validator("work_hours")
    @classmethod
    def _valid_work_hours(cls, value: str) -> str:
        from services.worktime import parse_work_hours

        parse_work_hours(value)  # raises ValueError with the reason
        return value

    @field_validator("callback_slots")
    @classmethod
    def _valid_slots(cls, value: str) -> str:
        from services.slots import parse_slots

        parse_slots(value)  # raises ValueError with the reason
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def web_url(self) -> str:
        """The console's address as people open it (login links point here)."""
        if self.web_base_url:
            return self.web_base_url.rstrip("/")
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def uses_sandbox(self) -> bool:
        return self.telegram_api_base.rstrip("/") != OFFICIAL_API_BASE
