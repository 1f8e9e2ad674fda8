"""Settings from the environment: names, durations, URL normalisation, clear errors."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.settings import Settings


class TestSettings:
    def test_defaults(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)  # no .env here
        settings = Settings()
        assert settings.bot_token is None
        assert settings.telegram_api_base == "https://api.telegram.org"
        assert settings.database_url.startswith("sqlite+aiosqlite:///")
        assert settings.timezone == "Asia/Shanghai"
        assert settings.sla.important_response == timedelta(hours=4)

    def test_environment_and_nested(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("BOT_TOKEN", "123:abc")
        monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
        monkeypatch.setenv("SLA__URGENT_RESPONSE", "15min")
        settings = Settings()
        assert settings.bot_token.get_secret_value() == "123:abc"
        assert "123:abc" not in repr(settings)
        assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1/test"
        assert settings.sla.urgent_response == timedelta(minutes=15)

    def test_dotenv_file(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text("BOT_TOKEN=42:xyz\nTIMEZONE=Asia/Hong_Kong\n", encoding="utf-8")
        settings = Settings()
        assert settings.bot_token.get_secret_value() == "42:xyz"
        assert str(settings.tz) == "Asia/Hong_Kong"

    def test_bad_timezone_is_explained(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
        with pytest.raises(ValidationError, match="unknown time zone"):
            Settings()

    def test_bad_duration_is_explained(self, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("SLA__URGENT_RESPONSE", "soon")
        with pytest.raises(ValidationError, match="invalid duration"):
            Settings()

    @pytest.mark.parametrize("day", ["11", "28", "-1"])
    def test_report_day_is_by_the_tenth(self, monkeypatch, tmp_path, day):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("REPORT_DAY", day)
        with pytest.raises(ValidationError, match="REPORT_DAY must be a day from 1 to 10"):
            Settings()

    @pytest.mark.parametrize("day", ["0", "1", "10"])
    def test_report_day_accepted(self, monkeypatch, tmp_path, day):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("REPORT_DAY", day)
        assert Settings().report_day == int(day)
