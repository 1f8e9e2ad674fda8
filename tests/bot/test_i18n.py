"""The catalogues: every message in every language, the same placeholders, every key the code uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.i18n import DEFAULT_LOCALE, LOCALES, LOCALES_DIR, catalogues, locale_for, read_catalogue
from services.domain import Category, Flag, Kind, Severity, Status
from services.notices import NoticeKind

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("bot", "handlers", "web")
LITERAL_KEY = re.compile(r'(?<![\w.])_{1,2}\(\s*"([^"{]+)"')


def messages(locale: str) -> dict[str, str]:
    catalogue = read_catalogue(LOCALES_DIR / locale / "LC_MESSAGES")
    return {m.id: m.string for m in catalogue if m.id}


def fuzzy(locale: str) -> list[str]:
    catalogue = read_catalogue(LOCALES_DIR / locale / "LC_MESSAGES")
    return [m.id for m in catalogue if m.id and m.fuzzy]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


SOURCE = messages(DEFAULT_LOCALE)


class TestCompleteness:
    @pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != DEFAULT_LOCALE])
    def test_every_message_is_translated_with_the_same_placeholders(self, locale):
        translated = messages(locale)
        missing = sorted(key for key in SOURCE if not translated.get(key))
        assert missing == [], f"{locale} lacks {missing}"
        assert fuzzy(locale) == [], f"{locale} has unreviewed (fuzzy) messages"
        assert sorted(set(translated) - set(SOURCE)) == [], f"{locale} has messages the source does not"
        differing = {key: (placeholders(SOURCE[key]), placeholders(translated[key]))
                     for key in SOURCE if placeholders(SOURCE[key]) != placeholders(translated[key])}
        assert differing == {}

    def test_every_key_the_code_uses_exists(self):
        used = {}
        for folder in CODE_DIRS:
            for path in (ROOT / folder).rglob("*.py"):
                for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8")):
                    used.setdefault(key, path.relative_to(ROOT).as_posix())
            for path in (ROOT / folder).rglob("*.html"):
                for key in re.findall(r'_\(\s*"([^"{]+)"', path.read_text(encoding="utf-8")):
                    used.setdefault(key, path.relative_to(ROOT).as_posix())
        assert used, "the scan found no message keys at all"
        assert {key: where for key, where in used.items() if key not in SOURCE} == {}

    def test_keys_built_from_codes_exist(self):
        families = ([f"category.{c.name.lower()}" for c in Category] + [f"kind.{k.name.lower()}" for k in Kind]
                    + [f"severity.{s.value}" for s in Severity] + [f"status.{s.value}" for s in Status]
                    + [f"flag.{f.value}" for f in Flag] + [f"rating.{n}" for n in range(1, 6)]
                    + [f"role.{r}" for r in ("staff", "supervisor", "manager", "admin")]
                    + [f"rating_thanks.{o}" for o in ("closed", "review", "reopened")]
                    + [f"step_hints.{s}" for s in ("description", "location", "contact", "confirm")])
        assert [key for key in families if key not in SOURCE] == []

    def test_every_notice_kind_is_rendered(self):
        from bot import render, render_majors

        source = "".join(Path(module.__file__).read_text(encoding="utf-8") for module in (render, render_majors))
        assert [k.name for k in NoticeKind if f"NoticeKind.{k.name}" not in source] == []


class TestLocaleChoice:
    @pytest.mark.parametrize("code,locale", [
        ("zh-hans", "zh_Hans"), ("zh", "zh_Hans"), ("zh-CN", "zh_Hans"), (None, "zh_Hans"), ("ru", "zh_Hans"),
        ("zh-hant", "zh_Hant"), ("zh-TW", "zh_Hant"), ("zh-hk", "zh_Hant"), ("zh-MO", "zh_Hant"),
        ("en", "en"), ("en-GB", "en"), ("EN-us", "en"),
    ])
    def test_telegram_language_code(self, code, locale):
        assert locale_for(code) == locale

    def test_the_same_message_in_three_languages(self):
        i18n = catalogues()
        texts = {locale: i18n.text("btn_new", locale=locale) for locale in LOCALES}
        assert len(set(texts.values())) == 3
        assert "投诉" in texts["zh_Hans"] and "投訴" in texts["zh_Hant"]


class TestCompiledCache:
    """The ``.po`` files compiled once into the cache directory, recompiled when any changes."""

    @staticmethod
    def copy_locales(tmp_path: Path) -> Path:
        import shutil

        target = tmp_path / "locales"
        shutil.copytree(LOCALES_DIR, target)
        return target

    def test_a_second_start_reads_the_compiled_files(self, tmp_path, monkeypatch):
        from bot import i18n

        monkeypatch.setenv("HUIFANG_CACHE_DIR", str(tmp_path / "cache"))
        first = i18n.Catalogues(self.copy_locales(tmp_path))
        assert sorted(p.name for p in (tmp_path / "cache").glob("catalogues-*/*.mo")) == sorted(
            f"{loc}.mo" for loc in LOCALES)

        def no_compiling(*_args, **_kwargs):
            raise AssertionError("compiled again although nothing changed")

        monkeypatch.setattr(i18n, "compile_catalogue", no_compiling)
        second = i18n.Catalogues(tmp_path / "locales")
        for locale in LOCALES:
            assert second.text("btn_cancel", locale=locale) == first.text("btn_cancel", locale=locale)
        assert second.text("btn_cancel", locale="en") != second.text("btn_cancel", locale="zh_Hans")

    def test_an_edited_catalogue_is_compiled_again(self, tmp_path, monkeypatch):
        from bot import i18n

        monkeypatch.setenv("HUIFANG_CACHE_DIR", str(tmp_path / "cache"))
        locales = self.copy_locales(tmp_path)
        before = i18n.Catalogues(locales).text("btn_cancel", locale="en")
        edited = next(p for p in (locales / "en" / "LC_MESSAGES").glob("*.po") if 'msgid "btn_cancel"' in p.read_text())
        text = edited.read_text()
        start = text.index('msgid "btn_cancel"')
        old = text[start:text.index("\n\n", start)] if "\n\n" in text[start:] else text[start:]
        edited.write_text(text.replace(old, 'msgid "btn_cancel"\nmsgstr "Stop it"'))
        assert before != "Stop it"
        assert i18n.Catalogues(locales).text("btn_cancel", locale="en") == "Stop it"
        assert len(list((tmp_path / "cache").glob("catalogues-*"))) == 2

    def test_a_damaged_compiled_file_is_compiled_again(self, tmp_path, monkeypatch):
        from bot import i18n

        monkeypatch.setenv("HUIFANG_CACHE_DIR", str(tmp_path / "cache"))
        locales = self.copy_locales(tmp_path)
        expected = i18n.Catalogues(locales).text("btn_cancel", locale="en")
        for damage in (b"", b"\x95\x04\x12\xde" + b"\xff" * 40):  # empty; right magic, garbage after it
            compiled = next((tmp_path / "cache").glob("catalogues-*/en.mo"))
            compiled.write_bytes(damage)
            assert i18n.Catalogues(locales).text("btn_cancel", locale="en") == expected
            assert compiled.read_bytes() != damage

    def test_an_unwritable_cache_only_means_compiling_at_every_start(self, tmp_path, monkeypatch):
        from bot import i18n

        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the cache folder would be")
        monkeypatch.setenv("HUIFANG_CACHE_DIR", str(blocker))
        assert i18n.Catalogues(self.copy_locales(tmp_path)).text("btn_cancel", locale="en")
