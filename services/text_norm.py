"""Text normalisation for the complaint classifier.

Resident messages arrive in every shape: Traditional characters, full-width Latin letters and
digits, odd spaces, upper-case Latin. Everything the classifier compares (message text and
lexicon terms alike) goes through :func:`normalize` so that both sides meet in one form:

* Unicode NFKC (full-width → half-width letters/digits/punctuation, compatibility forms);
* Traditional → Simplified Chinese with OpenCC ``t2s``;
* Latin letters lower-cased, runs of white space collapsed to one space.

Speed: the pure-Python OpenCC converter is slow on long messages, so :func:`to_simplified`
reads OpenCC's own ``t2s`` dictionaries once and converts most texts with a character table
(``str.translate``).  OpenCC itself is called only when the text contains one of its
multi-character phrase keys (about 280), where the phrase can give a
different result than character-by-character conversion.  Without such a phrase, OpenCC's
``t2s`` output *is* the character-by-character conversion (first candidate of each
character), so the result is the same as calling OpenCC on every text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path

__all__ = ["normalize", "to_simplified"]

_SPACES = re.compile(r"\s+")
_lock = threading.Lock()
_converter = None


class _T2S:
    """Character table plus phrase index built from OpenCC's ``t2s`` dictionaries."""

    def __init__(self, base: Path):
        self.table: dict[int, str] = {}
        with (base / "TSCharacters.txt").open(encoding="utf-8") as fh:
            for line in fh:
                if "\t" not in line:
                    continue
                key, value = line.rstrip("\n").split("\t", 1)
                value = value.split(" ")[0]
                if len(key) == 1 and value and value != key:
                    self.table[ord(key)] = value
        self.changing = frozenset(chr(c) for c in self.table)
        phrases: dict[str, list[str]] = {}
        with (base / "TSPhrases.txt").open(encoding="utf-8") as fh:
            for line in fh:
                if "\t" not in line:
                    continue
                key = line.split("\t", 1)[0]
                if len(key) > 1:
                    phrases.setdefault(key[0], []).append(key)
        self.phrases = phrases
        self.phrase_starts = frozenset(phrases)
        self.phrase_pairs = frozenset(p[:2] for keys in phrases.values() for p in keys)
        # one pass over the text finds out whether anything can change at all (a set of
        # characters: the regular-expression class of the same ~4200 characters, some outside
        # the BMP, is several times slower)
        self.trigger = self.changing | self.phrase_starts

    def has_phrase(self, text: str) -> bool:
        starts = self.phrase_starts
        if starts.isdisjoint(text):
            return False
        phrases, pairs = self.phrases, self.phrase_pairs
        for i, ch in enumerate(text):
            if ch in starts and text[i : i + 2] in pairs and any(text.startswith(p, i) for p in phrases[ch]):
                return True
        return False


_t2s: _T2S | None = None


def _get_t2s() -> _T2S | None:
    """The t2s tables (None if OpenCC's dictionaries are not where expected)."""
    global _t2s
    if _t2s is None:
        with _lock:
            if _t2s is None:
                import opencc

                base = Path(opencc.__file__).resolve().parent / "dictionary"
                try:
                    _t2s = _T2S(base)
                except OSError:
                    return None
    return _t2s


def _get_converter():
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                from opencc import OpenCC  # opencc-python-reimplemented

                _converter = OpenCC("t2s")
    return _converter


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (other characters untouched)."""
    if not text:
        return text
    t2s = _get_t2s()
    if t2s is None:  # dictionaries not where expected: always use the converter
        return _get_converter().convert(text)
    if t2s.trigger.isdisjoint(text):  # the common case: plain Simplified text
        return text
    if t2s.has_phrase(text):
        return _get_converter().convert(text)
    if t2s.changing.isdisjoint(text):  # only phrase-start characters, no phrase: nothing changes
        return text
    return text.translate(t2s.table)


def normalize(text: str) -> str:
    """Return the canonical form of ``text`` used for matching (see module docstring)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    text = text.lower()
    return _SPACES.sub(" ", text).strip()
