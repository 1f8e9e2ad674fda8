"""Languages: gettext catalogues (locales/<locale>/LC_MESSAGES/*.po) and the locale of each person.

Simplified Chinese is the default; Traditional Chinese and English come from the same message
ids. Message ids are symbolic keys (``intake.ask_description``), never sentences, so Python code
holds no user-facing wording. The ``.po`` files are the only source (nothing binary in the
repository): they are compiled with Babel at the first start after they change, and the compiled
``.mo`` files kept in the machine's cache directory (``services.cache_files``) under a checksum of
all the ``.po`` files, so an ordinary start reads three small files instead of parsing every
catalogue (and keeps Babel's locale data out of the bot's memory).
"""

from __future__ import annotations

import gettext
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware

from services.cache_files import cache_dir, write_atomically

log = logging.getLogger(__name__)
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LOCALE = "zh_Hans"
LOCALES = ("zh_Hans", "zh_Hant", "en")
_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def locale_for(language_code: str | None) -> str:
    """Telegram's ``language_code`` → one of LOCALES (zh-Hant/TW/HK/MO → Traditional, en* → English)."""
    code = (language_code or "").strip().lower().replace("_", "-")
    if code.startswith(_TRADITIONAL):
        return "zh_Hant"
    if code == "en" or code.startswith("en-"):
        return "en"
    return DEFAULT_LOCALE


def read_catalogue(folder: Path):
    """All ``.po`` files of one locale merged into one Babel catalogue."""
    from babel.messages.pofile import read_po

    merged = None
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as handle:
            # no locale: the plural rule comes from the files' own Plural-Forms header, and Babel
            # does not load its CLDR data just to compile
            catalogue = read_po(handle)
        if merged is None:
            merged = catalogue
            continue
        for message in catalogue:
            if message.id:
                merged[message.id] = message
    return merged


def sources_digest(folders: dict[str, Path]) -> str:
    """SHA-256 over every ``.po`` file of every locale (names and contents)."""
    digest = hashlib.sha256()
    for locale, folder in folders.items():
        for path in sorted(folder.glob("*.po")):
            digest.update(f"{locale}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def compile_catalogue(locale: str, folder: Path) -> bytes:
    """One locale's ``.po`` files compiled into one ``.mo`` (bytes)."""
    from babel.messages.mofile import write_mo

    catalogue = read_catalogue(folder) if folder.is_dir() else None
    if catalogue is None:
        raise RuntimeError(f"no catalogue for locale {locale} in {folder}")
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    return buffer.getvalue()


class Catalogues(I18n):
    """aiogram's I18n, fed from ``.po`` files (compiled in memory at start)."""

    def __init__(self, path: Path = LOCALES_DIR) -> None:
        super().__init__(path=path, default_locale=DEFAULT_LOCALE, domain="messages")

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        folders = {locale: self.path / locale / "LC_MESSAGES" for locale in LOCALES}
        cached = cache_dir() / f"catalogues-{sources_digest(folders)[:16]}"
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale, folder in folders.items():
            compiled = cached / f"{locale}.mo"
            try:
                translations[locale] = gettext.GNUTranslations(io.BytesIO(compiled.read_bytes()))
                continue
            except OSError:  # not compiled yet (or gettext's "bad magic number"): compiled now
                pass
            except Exception as error:  # damaged otherwise: compiled again and replaced
                log.warning("compiled catalogue %s unreadable (%s): compiled again", compiled, error)
            data = compile_catalogue(locale, folder)
            try:
                cached.mkdir(parents=True, exist_ok=True)
                write_atomically(compiled, lambda path, data=data: Path(path).write_bytes(data))
            except OSError as error:  # an unwritable cache only means compiling at every start
                log.warning("catalogue cache %s not written: %s", cached, error)
            translations[locale] = gettext.GNUTranslations(io.BytesIO(data))
        return translations

    def text(self, key: str, locale: str | None = None, **params: Any) -> str:
        """The message ``key`` in ``locale`` (default: the current one), formatted with ``params``."""
        value = self.gettext(key, locale=locale)
        return value.format(**params) if params else value


_catalogues: Catalogues | None = None


def catalogues() -> Catalogues:
    """The process-wide catalogues (read once)."""
    global _catalogues
    if _catalogues is None:
        _catalogues = Catalogues()
    return _catalogues


def _(key: str, **params: Any) -> str:
    """The message ``key`` in the current locale (the person's, inside an update or a delivery)."""
    return catalogues().text(key, **params)


def __(key: str):
    """A lazy message: resolved in the current locale when used (for module constants, filters)."""
    return catalogues().lazy_gettext(key)


class PersonLocaleMiddleware(I18nMiddleware):
    """The locale of the person writing: the one chosen with /lang, else from Telegram's language_code."""

    def __init__(self, i18n: I18n) -> None:
        super().__init__(i18n=i18n)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        resident = data.get("resident")
        if resident is not None and resident.locale in LOCALES:
            return resident.locale
        user: User | None = data.get("event_from_user")
        return locale_for(user.language_code if user else None)

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        data["locale"] = await self.get_locale(event, data)
        return await super().__call__(handler, event, data)
