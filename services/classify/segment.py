"""Word segmentation: jieba's dictionary (compact, shared, see :mod:`.dictionary`) plus the
classifier's words, and a fast ``cut(HMM=False)``."""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping

from services.classify.dictionary import load_dictionary

_jieba_lock = threading.Lock()


def _import_jieba():
    """``import jieba`` without letting it import ``pkg_resources``.

    jieba imports ``pkg_resources`` only to open its own data files and falls back to plain
    file paths without it; importing ``pkg_resources`` (deprecated, parses every installed
    distribution) costs 0.3-0.8 s of the bot's start-up.
    """
    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    blocked = "pkg_resources" not in sys.modules
    if blocked:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import jieba
    finally:
        if blocked and sys.modules.get("pkg_resources", False) is None:
            del sys.modules["pkg_resources"]
    return jieba


class _Words(Mapping[str, int]):
    """jieba's main dictionary (the shared :class:`~services.classify.dictionary.CompactDictionary`)
    plus one classifier's own words: word → frequency, as a ``jieba.Tokenizer.FREQ``."""

    __slots__ = ("main", "extra")

    def __init__(self, main: Mapping[str, int], extra: dict[str, int]) -> None:
        self.main = main
        self.extra = extra  # the classifier's words and their new prefixes (frequency 0)

    def get(self, key, default=None):
        value = self.extra.get(key)
        return self.main.get(key, default) if value is None else value

    def __getitem__(self, key: str) -> int:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        return key in self.extra or key in self.main

    def __len__(self) -> int:
        return len(self.main) + sum(1 for word in self.extra if word not in self.main)

    def __iter__(self) -> Iterator[str]:
        yield from self.extra
        yield from (word for word in self.main if word not in self.extra)


class _Tokenizer:
    """A classifier's dictionary (``FREQ``, ``total``) and, made at first use, a ``jieba.Tokenizer``
    over it for ``lcut(..., HMM=True)`` (importing jieba loads its HMM tables: ~9 MB)."""

    def __init__(self, freq: _Words, total: int) -> None:
        self.FREQ = freq
        self.total = total
        self._jieba = None

    def jieba_tokenizer(self):
        if self._jieba is None:
            with _jieba_lock:
                if self._jieba is None:
                    jieba = _import_jieba()
                    jieba.setLogLevel(logging.WARNING)
                    tok = jieba.Tokenizer()
                    tok.FREQ, tok.total, tok.initialized = self.FREQ, self.total, True
                    self._jieba = tok
        return self._jieba

    def lcut(self, text: str, HMM: bool = True) -> list[str]:  # noqa: N803  (jieba's spelling)
        return self.jieba_tokenizer().lcut(text, HMM=HMM)


def _new_tokenizer(words: Iterable[str]) -> _Tokenizer:
    """jieba's main dictionary plus ``words``, never touching jieba's global tokenizer.

    The main dictionary is the compact, memory-mapped one of :mod:`services.classify.dictionary`
    (one per machine, read-only); ``words`` go into a small dict on top of it, added the way
    ``Tokenizer.add_word`` adds them, with a frequency of at least 2000.
    """
    main = load_dictionary()
    extra: dict[str, int] = {}
    total = main.total
    for word in words:
        if not word or len(word) < 2 or word.isascii():
            continue
        current = extra.get(word)
        if current is None:
            current = main.get(word, 0)
        value = max(current, 2000)
        extra[word] = value
        total += value
        for end in range(1, len(word)):
            fragment = word[:end]
            if fragment not in extra and fragment not in main:
                extra[fragment] = 0
    return _Tokenizer(_Words(main, extra), total)


_RE_HAN = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")  # jieba's re_han_default
_RE_SKIP = re.compile(r"(\r\n|\s)")  # jieba's re_skip_default
_PREFIX = 1.0  # markers in _Segmenter's fragment cache (log probabilities are negative)
_ABSENT = 2.0
_FRAGMENT_CACHE_MAX = 100_000
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class _Segmenter:
    """``tokenizer.lcut(text, HMM=False)`` of a jieba tokenizer, computed faster.

    Same algorithm and the same dictionary (the tokenizer's ``FREQ`` and ``total``) as jieba's
    ``cut(..., HMM=False)``: split into han / non-han blocks, build the word DAG of each han
    block and pick the maximum-probability route.  The DAG and the route are computed in one
    pass with lists instead of jieba's dicts and generators, and the log probability of every
    fragment looked up is cached.  The result is identical (``tests/services/test_classify.py`` checks
    it on real messages); it only exists because segmentation dominates the classifier's time.
    """

    def __init__(self, tokenizer):
        self.freq: Mapping[str, int] = tokenizer.FREQ
        self.logtotal = math.log(tokenizer.total)
        # fragment → log probability (< 0) of the word, _PREFIX (only the start of longer words)
        # or _ABSENT: one lookup per DAG step instead of two; bounded, cleared when full
        self._fragments: dict[str, float] = {}

    def _fragment(self, frag: str) -> float:
        f = self.freq.get(frag)
        value = _ABSENT if f is None else (_PREFIX if f == 0 else math.log(f) - self.logtotal)
        cache = self._fragments
        if len(cache) >= _FRAGMENT_CACHE_MAX:
            cache.clear()
        cache[frag] = value
        return value

    def _cut_han(self, s: str, out: list[str]) -> None:
        known, lookup = self._fragments.get, self._fragment
        n = len(s)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for idx in range(n - 1, -1, -1):
            best = None
            best_x = idx
            i = idx
            frag = s[idx]
            while True:
                v = known(frag)
                if v is None:
                    v = lookup(frag)
                if v > 1.5:  # _ABSENT: no dictionary word starts with this fragment
                    break
                if v < 0.0:  # a word (not just the start of longer words)
                    sc = v + score[i + 1]
                    if best is None or sc >= best:  # ties: the longer word, as jieba's max((s, x))
                        best, best_x = sc, i
                i += 1
                if i >= n:
                    break
                frag = s[idx : i + 1]
            if best is None:  # no dictionary word starts here: the single character, whose
                # frequency is then 0 or absent, counted as jieba does as 1 (log 1 = 0)
                best, best_x = -self.logtotal + score[idx + 1], idx
            score[idx] = best
            end[idx] = best_x
        x = 0
        buf = ""
        while x < n:
            y = end[x] + 1
            if y - x == 1 and s[x] in _ASCII_ALNUM:
                buf += s[x]
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(s[x:y])
            x = y
        if buf:
            out.append(buf)

    def lcut(self, text: str) -> list[str]:
        out: list[str] = []
        blocks = _RE_HAN.split(text)
        for k, blk in enumerate(blocks):
            if not blk:
                continue
            if k % 2:  # a han (or latin/digit) block
                self._cut_han(blk, out)
            else:
                pieces = _RE_SKIP.split(blk)
                for j, piece in enumerate(pieces):
                    if j % 2:
                        out.append(piece)
                    else:
                        out.extend(piece)
        return out
