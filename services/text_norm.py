"""Text normalisation for the complaint classifier.

Resident messages arrive in every shape: Traditional characters, full-width Latin letters and
digits, odd spaces, upper-case Latin. Everything the classifier compares (message text and
lexicon terms alike) goes through :func:`normalize` so that both sides meet in one form:

* Unicode NFKC (full-width → half-width letters/digits/punctuation, compatibility forms);
* Traditional → Simplified Chinese with OpenCC ``t2s``;
* Latin letters lower-cased, runs of white space collapsed to one space.

The OpenCC converter is created lazily, once per process.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
import unicodedata

__all__ = ["normalize", "to_simplified"]

_converter = None
_converter_lock = threading.Lock()
_SPACES = re.compile(r"\s+")


def _get_converter():
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                from opencc import OpenCC  # opencc-python-reimplemented

                _converter = OpenCC("t2s")
    return _converter


_changing_chars: frozenset[str] | None = None


def _get_changing_chars() -> frozenset[str]:
    """Characters that a t2s conversion can change (read once from OpenCC's dictionaries).

    If a text contains none of them no dictionary entry can alter it, so the (pure-Python,
    comparatively slow) converter is skipped — the common case for Simplified input.
    """
    global _changing_chars
    if _changing_chars is None:
        import opencc

        chars: set[str] = set()
        base = Path(opencc.__file__).resolve().parent / "dictionary"
        for name in ("TSCharacters.txt", "TSPhrases.txt"):
            with (base / name).open(encoding="utf-8") as fh:
                for line in fh:
                    if "\t" not in line:
                        continue
                    key, value = line.rstrip("\n").split("\t", 1)
                    value = value.split(" ")[0]
                    if len(key) != len(value):
                        chars.update(key)
                    else:
                        chars.update(k for k, v in zip(key, value) if k != v)
        _changing_chars = frozenset(chars)
    return _changing_chars


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (other characters untouched)."""
    if not text:
        return text
    try:
        changing = _get_changing_chars()
    except OSError:  # dictionaries not where expected: always convert
        changing = None
    if changing is not None and changing.isdisjoint(text):
        return text
    return _get_converter().convert(text)


def normalize(text: str) -> str:
    """Return the canonical form of ``text`` used for matching (see module docstring)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    text = text.lower()
    return _SPACES.sub(" ", text).strip()
