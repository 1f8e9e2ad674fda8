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


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (other characters untouched)."""
    if not text:
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
