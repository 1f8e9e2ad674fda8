"""Explainable keyword classifier for resident complaint messages (投诉分类).

A message is normalised (NFKC, Traditional → Simplified, lower case; see ``services.text_norm``),
cut into words with a private jieba tokenizer that knows the property-management vocabulary, and
matched against a weighted keyword lexicon (``services/lexicon/lexicon.toml`` by default, or the
file named by ``LEXICON_PATH``; an optional overlay of learned weights from
``LEXICON_OVERLAY_PATH`` is merged over it).  Every matched keyword votes for a *target*:

* ``category:<投诉分类>`` — one of :class:`services.domain.Category`;
* ``kind:<投诉|咨询|建议>`` — :class:`services.domain.Kind`;
* ``severity:urgent`` / ``severity:important`` — :class:`services.domain.Severity`;
* ``flag:<lawsuit|media|group|staff_report|customer_report>`` — :class:`services.domain.Flag`;
* ``context:property`` — "this is about a residential compound / property company" evidence,
  which makes property categories more credible against 其他 without choosing between them.

Symptom words (噪音, 漏水, 坏了 …) are cancelled by a negation word shortly before them
("没有噪音了") or a resolution word shortly after them ("电梯已经修好了").  In short (chat) texts a
token that is not a term itself may match a term it starts or ends with (电梯门 → 电梯), at a
reduced weight.  Category and kind
hits in the lead sentence (the subject line; greetings such as "你好。" are skipped) count more;
severity and flag hits count the same everywhere.  ``Classification.reason()`` gives a short
explanation (category evidence, then severity/flag evidence).  Speed: each text is normalised
once and segmented once (``_Segmenter``, a faster equivalent of jieba's ``cut(HMM=False)``).  The decision rules and all thresholds live in the
lexicon's ``[settings]`` table; ``docs/classifier.md`` documents them.

Public API: :class:`KeywordHit`, :class:`Classification`, :class:`Classifier`,
:func:`get_classifier`, :class:`Lexicon`, :func:`load_lexicon`, :class:`LexiconError`,
:func:`learn_weights` and :func:`write_overlay`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from services.domain import Category, Flag, Kind, Severity
from services.text_norm import normalize

__all__ = [
    "Classification",
    "Classifier",
    "KeywordHit",
    "Lexicon",
    "LexiconError",
    "DEFAULT_LEXICON_PATH",
    "get_classifier",
    "learn_weights",
    "load_lexicon",
    "write_overlay",
]

DEFAULT_LEXICON_PATH = Path(__file__).resolve().parent / "lexicon" / "lexicon.toml"
LEXICON_ENV = "LEXICON_PATH"
OVERLAY_ENV = "LEXICON_OVERLAY_PATH"

_PROPERTY_CATEGORIES = tuple(c for c in Category if c is not Category.OTHER)
_SEVERITY_GROUPS = ("urgent", "important")
_CONTEXT_GROUPS = ("property",)
# Leaf sections: "terms" are topics (never negated), "symptoms" are problem words (negated by
# default), "patterns" are regular expressions over the normalised text, "requires" (flags only)
# is a gate: the flag fires only if one of its words is present too.
_LEAF_KINDS = ("terms", "symptoms", "patterns", "requires")
_ENTRY_FIELDS = {"weight", "negatable"}
_PUNCT = set("。！？!?；;，,、：:\n\r\t …~～·\"'“”‘’（）()《》【】[]<>-—/|")
_SENTENCE_END = set("。！？!?\n；;")
_SENTENCE_RX = re.compile(r"[。！？!?\n；;]+")
_LEAD_TARGETS = ("category:", "kind:")  # evidence that makes a sentence the lead …
_OPENER_MAX_CHARS = 10  # … a shorter opening sentence without it is a greeting / introduction
_MAX_SKIPPED_OPENERS = 2
_URGENT_FLAGS = frozenset({Flag.LAWSUIT, Flag.MEDIA, Flag.GROUP})
_ALL_FLAGS = frozenset(Flag)

_DEFAULT_SETTINGS: dict[str, float] = {
    "negation_window": 3,  # tokens looked at before (and after) a symptom for negation
    "lead_boost": 1.6,  # multiplier for hits in the first sentence (subject line)
    "kind_lead_boost": 2.5,  # kind is mostly decided by the subject line: its hits count this much …
    "kind_body_factor": 0.4,  # … and kind hits in the rest of the message this much
    "kind_symptom_factor": 0.0,  # share of category *symptom* evidence (坏了, 漏水 …) credited to 投诉
    "severity_lead_boost": 1.0,  # severity and flag hits: first-sentence multiplier (1 = none)
    "repeat_factor": 0.3,  # each further occurrence of a term adds this share of its weight
    "repeat_cap": 1.0,  # … but all repeats together add at most this share
    "min_property_score": 2.0,  # weaker property evidence than this → 其他
    "context_weight": 0.5,  # share of the property-context score credited to property classes
    "context_cap": 3.0,  # context score is capped before crediting
    "other_margin": 1.0,  # 其他 wins when other ≥ (best property + credited context) × margin
    "kind_threshold": 2.0,  # 咨询/建议 need at least this score …
    "kind_margin": 0.0,  # … and must beat the 投诉 score by this much
    "severity_threshold": 2.0,  # urgent/important need at least this score
    "flag_threshold": 2.0,  # a flag needs at least this score
    "no_evidence_confidence": 0.3,  # confidence of the default 其他
    "compound_factor": 0.8,  # weight share of a term found inside a longer token (电梯门 → 电梯); 0 = off
    "compound_min_chars": 2,  # … the contained term has at least this many characters
    "compound_max_rest": 2,  # … and the rest of the token at most this many
    "compound_max_chars": 80,  # … only in texts of at most this many characters (chat); 0 = any
    "max_terms_per_window": 0,  # reserved
}
_INT_SETTINGS = {
    "negation_window",
    "max_terms_per_window",
    "compound_min_chars",
    "compound_max_rest",
    "compound_max_chars",
}
# a compound whose remaining part contains one of these is not split ("无噪音", "不安全"): the
# negation would be lost, and a token-internal negation can flip the meaning either way
_COMPOUND_BLOCKERS = frozenset("不没无未非别莫勿")
_MISSING: Any = object()
_COMPOUND_CACHE_MAX = 50_000  # tokens remembered per classifier (cleared when full)
# what a term found inside a compound may vote for: the *topic* (category, property context,
# severity) — not the kind ("强烈要求", "怎么办" are words of their own) nor flag gates ("主管部门")
_COMPOUND_GROUPS = ("category:", "context:", "severity:")

log = logging.getLogger(__name__)


class LexiconError(ValueError):
    """The lexicon (or overlay) file is malformed; the message names the file and line."""


# --------------------------------------------------------------------------------------------
# Lexicon loading and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One weighted keyword of the lexicon."""

    term: str  # normalised term (or regex source for patterns)
    weight: float
    target: str  # e.g. "category:工程管理", "flag:lawsuit", "context:property"
    leaf: str  # terms / symptoms / patterns / requires
    negatable: bool

    @property
    def key(self) -> tuple[str, str, str]:
        """(target, leaf, term): unique identity of the entry, used for weights and overlays."""
        return (self.target, self.leaf, self.term)


@dataclass
class Lexicon:
    """A validated lexicon, possibly with an overlay of learned weights merged in."""

    path: Path
    overlay_path: Path | None
    settings: dict[str, float]
    entries: tuple[Entry, ...]
    negation_before: frozenset[str]
    negation_after: frozenset[str]
    synonyms: dict[str, str]  # variant → canonical term (both normalised)
    dictionary: tuple[str, ...]  # extra words for the jieba user dictionary
    stopwords: frozenset[str]
    patterns: dict[tuple[str, str, str], re.Pattern[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None, overlay: str | Path | None = None) -> Lexicon:
        """Same as :func:`load_lexicon`."""
        return load_lexicon(path, overlay)

    def weights(self) -> dict[tuple[str, str, str], float]:
        return {e.key: e.weight for e in self.entries}


class _Locator:
    """Finds the line of a TOML table header or key, for error messages (tomllib gives none)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.headers: list[tuple[int, tuple[str, ...]]] = []
        for i, line in enumerate(self.lines, start=1):
            m = self._HEADER.match(line)
            if m and not line.lstrip().startswith("#"):
                self.headers.append((i, self._split_key(m.group(1))))

    @staticmethod
    def _split_key(raw: str) -> tuple[str, ...]:
        parts, buf, quote = [], [], None
        for ch in raw:
            if quote:
                if ch == quote:
                    quote = None
                else:
                    buf.append(ch)
            elif ch in "\"'":
                quote = ch
            elif ch == ".":
                parts.append("".join(buf).strip())
                buf = []
            else:
                buf.append(ch)
        parts.append("".join(buf).strip())
        return tuple(parts)

    def _section_range(self, section: tuple[str, ...]) -> tuple[int, int] | None:
        for idx, (line_no, key) in enumerate(self.headers):
            if key == section:
                end = self.headers[idx + 1][0] if idx + 1 < len(self.headers) else len(self.lines) + 1
                return line_no, end
        return None

    def header_line(self, section: tuple[str, ...]) -> int | None:
        rng = self._section_range(section)
        if rng:
            return rng[0]
        # the section may be written as part of a parent table: look for the longest prefix
        for cut in range(len(section) - 1, 0, -1):
            rng = self._section_range(section[:cut])
            if rng:
                return rng[0]
        return None

    def key_line(self, section: tuple[str, ...], key: str, occurrence: int = 1) -> int | None:
        """Line of ``key`` inside ``section`` (the ``occurrence``-th one), else a best guess."""
        rng = self._section_range(section)
        candidates = [rng] if rng else []
        candidates.append((1, len(self.lines) + 1))
        needles = (f'"{key}"', f"'{key}'")
        for start, end in candidates:
            seen = 0
            for i in range(start, end):
                line = self.lines[i - 1]
                stripped = line.lstrip()
                if stripped.startswith("#"):
                    continue
                if any(n in line for n in needles) or re.match(rf"\s*{re.escape(key)}\s*=", line):
                    seen += 1
                    if seen >= occurrence:
                        return i
        return self.header_line(section)

    def error(self, line: int | None, message: str) -> LexiconError:
        where = f"line {line}" if line else "line ?"
        return LexiconError(f"{self.path}, {where}: {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_toml(path: Path) -> tuple[dict[str, Any], _Locator]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read lexicon file: {exc}") from exc
    loc = _Locator(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        raise loc.error(line, f"TOML syntax error: {msg}") from exc
    return data, loc


def _group_names(group: str) -> tuple[str, ...]:
    if group == "category":
        return tuple(c.value for c in Category)
    if group == "kind":
        return tuple(k.value for k in Kind)
    if group == "severity":
        return _SEVERITY_GROUPS
    if group == "flag":
        return tuple(f.value for f in Flag)
    if group == "context":
        return _CONTEXT_GROUPS
    raise AssertionError(group)


_TERM_GROUPS = ("category", "kind", "severity", "flag", "context")
_TOP_LEVEL = set(_TERM_GROUPS) | {"settings", "negation", "synonyms", "dictionary", "stopwords", "meta", "overlay"}


def _parse_entries(
    data: dict[str, Any], loc: _Locator, *, overlay: bool
) -> dict[tuple[str, str, str], tuple[float, bool | None]]:
    """Validate the term sections; return {(target, leaf, raw term): (weight, negatable|None)}."""
    out: dict[tuple[str, str, str], tuple[float, bool | None]] = {}
    seen_norm: dict[tuple[str, str], tuple[str, str]] = {}  # (target, normalised term) → (leaf, raw)
    for group in _TERM_GROUPS:
        block = data.get(group)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise loc.error(loc.key_line((), group), f"[{group}] must be a table")
        names = _group_names(group)
        for name, leaves in block.items():
            section = (group, name)
            if name not in names:
                raise loc.error(
                    loc.header_line(section) or loc.key_line((group,), name),
                    f"unknown {group} name {name!r} (expected one of: {', '.join(names)})",
                )
            if not isinstance(leaves, dict):
                raise loc.error(loc.header_line(section), f"[{group}.{name}] must be a table")
            target = f"{group}:{name}"
            for leaf, terms in leaves.items():
                lsection = (group, name, leaf)
                allowed = _LEAF_KINDS if group == "flag" else _LEAF_KINDS[:3]
                if leaf not in allowed:
                    raise loc.error(
                        loc.header_line(lsection) or loc.key_line(section, leaf),
                        f"unknown section {leaf!r} in [{group}.{name}] (expected one of: {', '.join(allowed)})",
                    )
                if not isinstance(terms, dict):
                    raise loc.error(
                        loc.header_line(lsection), f"[{group}.{name}.{leaf}] must be a table of term = weight"
                    )
                for raw_term, value in terms.items():
                    line = lambda: loc.key_line(lsection, raw_term)  # noqa: E731
                    if not raw_term.strip():
                        raise loc.error(line(), f"empty term in [{group}.{name}.{leaf}]")
                    negatable: bool | None = None
                    if isinstance(value, dict):
                        unknown = set(value) - _ENTRY_FIELDS
                        if unknown:
                            raise loc.error(line(), f"term {raw_term!r}: unknown field(s) {sorted(unknown)}")
                        if "weight" not in value:
                            raise loc.error(line(), f"term {raw_term!r}: missing field 'weight'")
                        weight = value["weight"]
                        if "negatable" in value:
                            negatable = value["negatable"]
                            if not isinstance(negatable, bool):
                                raise loc.error(line(), f"term {raw_term!r}: 'negatable' must be true or false")
                    else:
                        weight = value
                    if not _is_number(weight):
                        raise loc.error(line(), f"term {raw_term!r}: weight must be a number, got {weight!r}")
                    if leaf == "patterns":
                        try:
                            re.compile(raw_term)
                        except re.error as exc:
                            raise loc.error(line(), f"pattern {raw_term!r} is not a valid regex: {exc}") from exc
                        norm = raw_term
                    else:
                        norm = normalize(raw_term)
                    if not overlay:
                        dup_key = (target, norm) if leaf != "requires" else (target + "#requires", norm)
                        if dup_key in seen_norm:
                            prev_leaf, prev_raw = seen_norm[dup_key]
                            occurrence = 2 if (prev_leaf == leaf and prev_raw == raw_term) else 1
                            raise loc.error(
                                loc.key_line(lsection, raw_term, occurrence),
                                f"duplicate term {raw_term!r} in [{group}.{name}] "
                                f"(already listed as {prev_raw!r} under {prev_leaf})",
                            )
                        seen_norm[dup_key] = (leaf, raw_term)
                    out[(target, leaf, norm)] = (float(weight), negatable)
    return out


def _string_list(data: dict[str, Any], loc: _Locator, table: str, key: str) -> list[str]:
    block = data.get(table, {})
    if not isinstance(block, dict):
        raise loc.error(loc.header_line((table,)), f"[{table}] must be a table")
    value = block.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise loc.error(loc.key_line((table,), key), f"[{table}] {key} must be a list of strings")
    return [normalize(v) for v in value if v.strip()]


def _resolve_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get(LEXICON_ENV)
    return Path(env) if env else DEFAULT_LEXICON_PATH


def _resolve_overlay(overlay: str | Path | None | bool) -> Path | None:
    if overlay is False:
        return None
    if overlay is not None and overlay is not True:
        return Path(overlay)
    env = os.environ.get(OVERLAY_ENV)
    return Path(env) if env else None


def load_lexicon(path: str | Path | None = None, overlay: str | Path | None | bool = None) -> Lexicon:
    """Load and validate a lexicon.

    ``path``: the lexicon TOML; ``None`` → ``$LEXICON_PATH`` or the shipped file.
    ``overlay``: a TOML overlay of weights merged on top; ``None`` → ``$LEXICON_OVERLAY_PATH`` if
    set (a missing overlay file is ignored then), ``False`` → no overlay.
    Raises :class:`LexiconError` naming the file and line on any malformed entry.
    """
    lex_path = _resolve_path(path)
    data, loc = _read_toml(lex_path)

    for key in data:
        if key not in _TOP_LEVEL:
            raise loc.error(loc.header_line((key,)) or loc.key_line((), key), f"unknown section [{key}]")

    settings = dict(_DEFAULT_SETTINGS)
    raw_settings = data.get("settings", {})
    if not isinstance(raw_settings, dict):
        raise loc.error(loc.header_line(("settings",)), "[settings] must be a table")
    for key, value in raw_settings.items():
        if key not in _DEFAULT_SETTINGS:
            raise loc.error(loc.key_line(("settings",), key), f"unknown setting {key!r}")
        if not _is_number(value):
            raise loc.error(loc.key_line(("settings",), key), f"setting {key!r} must be a number, got {value!r}")
        settings[key] = int(value) if key in _INT_SETTINGS else float(value)

    entries = _parse_entries(data, loc, overlay=False)

    synonyms: dict[str, str] = {}
    syn_block = data.get("synonyms", {})
    if not isinstance(syn_block, dict):
        raise loc.error(loc.header_line(("synonyms",)), "[synonyms] must be a table")
    for canonical, variants in syn_block.items():
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise loc.error(loc.key_line(("synonyms",), canonical), f"synonyms of {canonical!r} must be a list of strings")
        canon = normalize(canonical)
        for variant in variants:
            var = normalize(variant)
            if var == canon:
                continue
            if var in synonyms and synonyms[var] != canon:
                raise loc.error(
                    loc.key_line(("synonyms",), canonical),
                    f"synonym {variant!r} is listed for both {synonyms[var]!r} and {canonical!r}",
                )
            synonyms[var] = canon

    for target, leaf, term in entries:
        if leaf != "patterns" and term in synonyms:
            group, name = target.split(":", 1)
            raise loc.error(
                loc.key_line((group, name, leaf), term),
                f"term {term!r} in [{group}.{name}.{leaf}] is a synonym of {synonyms[term]!r}; "
                f"list {synonyms[term]!r} there instead",
            )

    negation_before = frozenset(_string_list(data, loc, "negation", "before"))
    negation_after = frozenset(_string_list(data, loc, "negation", "after"))
    dictionary = tuple(_string_list(data, loc, "dictionary", "words"))
    stopwords = frozenset(_string_list(data, loc, "stopwords", "words"))

    overlay_path = _resolve_overlay(overlay)
    if overlay_path is not None:
        if overlay_path.exists():
            odata, oloc = _read_toml(overlay_path)
            for key in odata:
                if key not in set(_TERM_GROUPS) | {"overlay", "meta"}:
                    raise oloc.error(oloc.header_line((key,)), f"unknown section [{key}] in overlay")
            for key, (weight, negatable) in _parse_entries(odata, oloc, overlay=True).items():
                old = entries.get(key)
                entries[key] = (weight, negatable if negatable is not None else (old[1] if old else None))
        elif overlay is not None and overlay is not True:
            raise LexiconError(f"{overlay_path}: overlay file not found")
        else:
            log.warning("lexicon overlay %s not found; ignored", overlay_path)
            overlay_path = None

    built: list[Entry] = []
    patterns: dict[tuple[str, str, str], re.Pattern[str]] = {}
    for (target, leaf, term), (weight, negatable) in entries.items():
        if negatable is None:
            negatable = leaf == "symptoms"
        entry = Entry(term=term, weight=weight, target=target, leaf=leaf, negatable=negatable)
        built.append(entry)
        if leaf == "patterns":
            patterns[entry.key] = re.compile(term)
    return Lexicon(
        path=lex_path,
        overlay_path=overlay_path,
        settings=settings,
        entries=tuple(built),
        negation_before=negation_before,
        negation_after=negation_after,
        synonyms=synonyms,
        dictionary=dictionary,
        stopwords=stopwords,
        patterns=patterns,
    )


# --------------------------------------------------------------------------------------------
# jieba: initialised once per process, quietly; every classifier gets a private copy
# --------------------------------------------------------------------------------------------

_jieba_lock = threading.Lock()
_base_tokenizer = None


def _new_tokenizer(words: Iterable[str]):
    """A private ``jieba.Tokenizer`` sharing the (once-loaded) main dictionary, plus ``words``."""
    global _base_tokenizer
    import jieba

    with _jieba_lock:
        if _base_tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            logging.getLogger("jieba").setLevel(logging.WARNING)
            base = jieba.Tokenizer()
            base.initialize()
            _base_tokenizer = base
        base = _base_tokenizer
        tok = jieba.Tokenizer()
        tok.FREQ = dict(base.FREQ)
        tok.total = base.total
        tok.initialized = True
    for word in words:
        if word and len(word) > 1 and not word.isascii():
            tok.add_word(word, freq=max(tok.FREQ.get(word, 0), 2000))
    return tok


_RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")  # jieba's re_han_default
_RE_SKIP = re.compile(r"(\r\n|\s)")  # jieba's re_skip_default
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class _Segmenter:
    """``tokenizer.lcut(text, HMM=False)`` of a jieba tokenizer, computed faster.

    Same algorithm and the same dictionary (the tokenizer's ``FREQ`` and ``total``) as jieba's
    ``cut(..., HMM=False)``: split into han / non-han blocks, build the word DAG of each han
    block and pick the maximum-probability route.  The DAG and the route are computed in one
    pass with lists instead of jieba's dicts and generators, and the logarithms of word
    frequencies are cached.  The result is identical (``tests/services/test_classify.py`` checks
    it on real messages); it only exists because segmentation dominates the classifier's time.
    """

    def __init__(self, tokenizer):
        self.freq: dict[str, int] = tokenizer.FREQ
        self.logtotal = math.log(tokenizer.total)
        self._logs: dict[int, float] = {}

    def _log(self, f: int) -> float:
        value = self._logs.get(f)
        if value is None:
            value = self._logs[f] = math.log(f)
        return value

    def _cut_han(self, s: str, out: list[str]) -> None:
        freq, logtotal, logs, log_of = self.freq, self.logtotal, self._logs, self._log
        n = len(s)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for idx in range(n - 1, -1, -1):
            best = None
            best_x = idx
            i = idx
            frag = s[idx]
            while True:
                f = freq.get(frag)
                if f is None:
                    break
                if f:
                    lf = logs.get(f)
                    if lf is None:
                        lf = log_of(f)
                    sc = lf - logtotal + score[i + 1]
                    if best is None or sc >= best:  # ties: the longer word, as jieba's max((s, x))
                        best, best_x = sc, i
                i += 1
                if i >= n:
                    break
                frag = s[idx : i + 1]
            if best is None:  # no dictionary word starts here: the single character
                f = freq.get(s[idx]) or 1
                best, best_x = log_of(f) - logtotal + score[idx + 1], idx
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


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeywordHit:
    """A matched keyword: the term, its (effective) weight and what it voted for."""

    term: str
    weight: float
    target: str  # e.g. "category:工程管理", "kind:咨询", "severity:urgent", "flag:lawsuit"

    def to_json_dict(self) -> dict[str, Any]:
        return {"term": self.term, "weight": self.weight, "target": self.target}


_TARGET_LABELS = {
    "severity:urgent": "紧急",
    "severity:important": "重要",
    "flag:lawsuit": "起诉",
    "flag:media": "媒体",
    "flag:group": "群诉",
    "flag:staff_report": "员工投诉",
    "flag:customer_report": "客户举报",
    "context:property": "物业相关",
}


@dataclass(frozen=True)
class Classification:
    """The classifier's decision with the evidence behind it."""

    category: Category
    kind: Kind
    severity: Severity
    confidence: float
    keywords: tuple[KeywordHit, ...]
    flags: frozenset[Flag] = frozenset()

    def reason(self, max_terms: int = 5) -> str:
        """Short Chinese explanation shown to residents and staff.

        Category evidence first (the terms that voted for the chosen category, strongest first,
        each term once, at most ``max_terms``), then the evidence of a raised severity and of
        each flag, e.g. ``分类「工程管理」：电梯、坏了；重要：又坏了、没人修``.  Context words
        (小区, 3栋 …) and kind words are left out; the full list is in :attr:`keywords`.
        """
        if not self.keywords:
            return f"未匹配到关键词，默认归为「{Category.OTHER.value}」"

        def terms(target: str, limit: int) -> list[str]:
            seen: list[str] = []
            for hit in sorted(self.keywords, key=lambda h: -h.weight):
                if hit.target == target and hit.weight > 0 and hit.term not in seen:
                    seen.append(hit.term)
            return seen[:limit]

        category_terms = terms(f"category:{self.category.value}", max_terms)
        if category_terms:
            parts = [f"分类「{self.category.value}」：" + "、".join(category_terms)]
        elif self.category is Category.OTHER:
            parts = [f"分类「{Category.OTHER.value}」：未见足够的物业分类关键词"]
        else:
            parts = [f"分类「{self.category.value}」"]
        severity_target = {Severity.URGENT: "severity:urgent", Severity.IMPORTANT: "severity:important"}
        if self.severity in severity_target:
            target = severity_target[self.severity]
            found = terms(target, 3)
            if found:
                parts.append(f"{_TARGET_LABELS[target]}：" + "、".join(found))
        for flag in sorted(self.flags, key=lambda f: list(Flag).index(f)):
            target = f"flag:{flag.value}"
            found = terms(target, 3)
            parts.append(f"{_TARGET_LABELS[target]}：" + "、".join(found) if found else _TARGET_LABELS[target])
        return "；".join(parts)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "kind": self.kind.value,
            "severity": self.severity.label,
            "confidence": round(self.confidence, 3),
            "keywords": [h.to_json_dict() for h in self.keywords],
            "flags": sorted(f.value for f in self.flags),
        }


class _Match(NamedTuple):
    """A term found in a text: the entry key and how often it occurred in the lead / the rest."""

    key: tuple[str, str, str]
    term: str  # as shown to staff (canonical term, or the matched text for patterns)
    lead: int  # occurrences in the first sentence (subject line)
    body: int  # occurrences elsewhere
    scale: float = 1.0  # compound_factor when the term was only found inside longer tokens


def _required_chars(rx: re.Pattern[str]) -> frozenset[str] | None:
    """Characters of which every match of ``rx`` must contain at least one (None: unknown).

    Used as a cheap pre-filter: a pattern whose required characters are all absent from a text
    cannot match it, so the (comparatively slow) regex search is skipped.
    """
    if rx.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser as sre_parse  # Python ≥ 3.11
        from re import _constants as c
    except ImportError:  # pragma: no cover
        return None

    def of_item(op, av) -> set[str] | None:
        if op is c.LITERAL:
            return {chr(av)}
        if op is c.IN:
            chars: set[str] = set()
            for iop, iav in av:
                if iop is c.LITERAL:
                    chars.add(chr(iav))
                elif iop is c.RANGE and iav[1] - iav[0] < 64:
                    chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
                else:
                    return None
            return chars
        if op is c.SUBPATTERN:
            return of_seq(av[-1])
        if op is c.BRANCH:
            out: set[str] = set()
            for alt in av[1]:
                sub = of_seq(alt)
                if sub is None:
                    return None
                out |= sub
            return out
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            return of_seq(av[2])
        return None

    def of_seq(seq) -> set[str] | None:
        best = None
        for op, av in seq:
            got = of_item(op, av)
            if got is not None and (best is None or len(got) < len(best)):
                best = got
        return best

    try:
        found = of_seq(sre_parse.parse(rx.pattern, rx.flags))
    except Exception:  # pragma: no cover - any parser surprise: no pre-filter
        return None
    return frozenset(found) if found else None


class Classifier:
    """Keyword classifier over a :class:`Lexicon`; thread-safe after construction."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.settings = lexicon.settings
        self._weights = lexicon.weights()
        by_term: dict[str, list[Entry]] = defaultdict(list)
        for entry in lexicon.entries:
            if entry.leaf != "patterns":
                by_term[entry.term].append(entry)
        # variant or canonical term → (canonical term, its entries): one dict lookup per candidate
        self._lookup_table: dict[str, tuple[str, tuple[Entry, ...]]] = {
            term: (term, tuple(entries)) for term, entries in by_term.items()
        }
        for variant, canon in lexicon.synonyms.items():
            if canon in by_term and variant not in self._lookup_table:
                self._lookup_table[variant] = (canon, tuple(by_term[canon]))
        self._by_term = by_term
        self._patterns = [
            (e, lexicon.patterns[e.key], _required_chars(lexicon.patterns[e.key]))
            for e in lexicon.entries
            if e.leaf == "patterns"
        ]
        self._pattern_index: dict[str, list[int]] = defaultdict(list)
        self._pattern_always: list[int] = []  # patterns without a usable pre-filter
        for p_idx, (_, _, required) in enumerate(self._patterns):
            if required is None:
                self._pattern_always.append(p_idx)
            else:
                for ch in required:
                    self._pattern_index[ch].append(p_idx)
        self._pattern_chars = frozenset(self._pattern_index)
        self._gated = {e.target for e in lexicon.entries if e.leaf == "requires"}
        # prefixes of every term that spans several tokens: a token that starts no term is skipped
        self._prefixes = {w[:k] for w in self._lookup_table for k in range(1, len(w) + 1)}
        self._max_span = 6  # a term is matched across at most this many jieba tokens
        s = self.settings
        self._window = int(s["negation_window"])
        self._mults = {
            "kind": (s["kind_lead_boost"], s["kind_body_factor"]),
            "severity": (s["severity_lead_boost"], 1.0),
            "flag": (s["severity_lead_boost"], 1.0),
        }
        self._default_mults = (s["lead_boost"], 1.0)
        self._cat_targets = tuple((c, f"category:{c.value}") for c in Category)
        self._prop_targets = tuple((c, t) for c, t in self._cat_targets if c is not Category.OTHER)
        self._flag_targets = tuple((f, f"flag:{f.value}") for f in Flag)
        words = set(self._lookup_table) | set(lexicon.dictionary)
        words |= lexicon.negation_before | lexicon.negation_after
        self._tokenizer = _new_tokenizer(sorted(words))
        self._segmenter = _Segmenter(self._tokenizer)
        # compound tokens (电梯门, 路灯杆): token → (canonical term, entries) of the longest lexicon
        # term that is its prefix or suffix, or None; filled lazily, one dict lookup per token
        self._compound_factor = float(s["compound_factor"])
        self._compound_min = max(2, int(s["compound_min_chars"]))
        self._compound_rest = max(1, int(s["compound_max_rest"]))
        self._compound_max_text = int(s["compound_max_chars"])
        self._compound_table: dict[str, tuple[str, tuple[Entry, ...]]] = {}
        for word, (canon, entries) in self._lookup_table.items():
            usable = tuple(e for e in entries if e.target.startswith(_COMPOUND_GROUPS) and e.leaf != "requires")
            if usable and len(word) >= self._compound_min:
                self._compound_table[word] = (canon, usable)
        self._compounds: dict[str, tuple[str, tuple[Entry, ...]] | None] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> Classifier:
        """Classifier over the lexicon at ``path`` (None → ``$LEXICON_PATH`` or the shipped file)."""
        return cls(load_lexicon(path))

    # -- matching ------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """Normalise ``text`` and cut it into words."""
        return self._segmenter.lcut(normalize(text))

    def _lookup(self, word: str) -> str | None:
        found = self._lookup_table.get(word)
        return found[0] if found else None

    def _compound(self, tok: str) -> tuple[str, tuple[Entry, ...]] | None:
        """The lexicon term a compound token starts or ends with (电梯门 → 电梯), else None.

        Only for tokens that are not themselves terms (the caller checks), of at least
        ``compound_min_chars`` + 1 characters, not pure ASCII.  The longest contained term wins;
        on a tie the prefix (电梯门: what the thing belongs to usually names the category).  The
        rest of the token must not contain a negation character ("无噪音" is not "噪音").
        """
        cache = self._compounds
        try:
            return cache[tok]
        except KeyError:
            pass
        found = None
        n = len(tok)
        minimum = self._compound_min
        if n > minimum and not tok.isascii():
            table = self._compound_table
            for k in range(n - 1, max(minimum, n - self._compound_rest) - 1, -1):
                hit = table.get(tok[:k])
                if hit is not None and _COMPOUND_BLOCKERS.isdisjoint(tok[k:]):
                    found = hit
                    break
                hit = table.get(tok[n - k :])
                if hit is not None and _COMPOUND_BLOCKERS.isdisjoint(tok[: n - k]):
                    found = hit
                    break
        if len(cache) >= _COMPOUND_CACHE_MAX:
            cache.clear()
        cache[tok] = found
        return found

    def _negated(self, tokens: list[str], start: int, end: int) -> bool:
        window = self._window
        neg_before, neg_after = self.lexicon.negation_before, self.lexicon.negation_after
        # a negation word shortly before the term, in the same clause
        for j in range(start - 1, max(-1, start - 1 - window), -1):
            tok = tokens[j]
            if tok in _PUNCT:
                break
            if tok in neg_before:
                return True
        # a resolution word shortly after it ("修好了"), itself not negated ("没修好")
        for j in range(end, min(len(tokens), end + window + 1)):
            tok = tokens[j]
            if tok in _PUNCT:
                break
            if tok in neg_after:
                prev = tokens[j - 1] if j - 1 >= end else ""
                prev2 = tokens[j - 2] if j - 2 >= end else ""
                if prev not in neg_before and prev2 not in neg_before:
                    return True
        return False

    def _match(self, text: str) -> list[_Match]:
        """Find the lexicon's terms in ``text``: one normalisation, one segmentation, one scan.

        The *lead* is the first sentence (the subject line of a web message), except that up to
        two short opening sentences without category or kind evidence are skipped: greetings
        ("你好。", "在吗？") and self-introductions ("我是5栋业主。") in chat messages.
        """
        norm = normalize(text)
        tokens = self._segmenter.lcut(norm)
        n = len(tokens)
        lookup, prefixes = self._lookup_table.get, self._prefixes
        max_span = self._max_span
        # compound tokens (电梯门 → 电梯): only in short texts; a cached dict lookup per long token
        use_compounds = self._compound_factor > 0 and (
            self._compound_max_text <= 0 or len(norm) <= self._compound_max_text
        )
        compounds, compound = self._compounds, self._compound
        min_compound = self._compound_min + 1
        # (key, shown term, char offset, found inside a compound token)
        found_hits: list[tuple[tuple[str, str, str], str, int, bool]] = []
        pos = 0
        i = 0
        while i < n:
            tok = tokens[i]
            partial = False
            if tok not in prefixes:
                found = None
                if use_compounds and len(tok) >= min_compound:
                    found = compounds.get(tok, _MISSING)
                    if found is _MISSING:
                        found = compound(tok)
                if found is None:
                    pos += len(tok)
                    i += 1
                    continue
                width, partial = 1, True
            else:
                found = lookup(tok)
                width = 1
                joined = tok
                for j in range(i + 1, min(n, i + max_span)):
                    joined += tokens[j]
                    if joined not in prefixes:
                        break
                    hit = lookup(joined)
                    if hit is not None:
                        found, width = hit, j - i + 1
                if found is None and use_compounds and len(tok) >= min_compound:
                    found = compounds.get(tok, _MISSING)
                    if found is _MISSING:
                        found = compound(tok)
                    partial = found is not None
                if found is None:
                    pos += len(tok)
                    i += 1
                    continue
            canon, entries = found
            negated = None
            for entry in entries:
                if entry.negatable:
                    if negated is None:
                        negated = self._negated(tokens, i, i + width)
                    if negated:
                        continue
                found_hits.append((entry.key, canon, pos, partial))
            for j in range(i, i + width):
                pos += len(tokens[j])
            i += width
        if self._patterns:
            # only the patterns one of whose required characters occurs in the text (index by
            # character: a short message touches a few patterns, not all of them)
            index = self._pattern_index
            todo = set(self._pattern_always)
            for ch in self._pattern_chars.intersection(norm):
                todo.update(index[ch])
            for p_idx in sorted(todo):
                entry, rx, _ = self._patterns[p_idx]
                for m in rx.finditer(norm):
                    found_hits.append((entry.key, m.group(0), m.start(), False))

        # sentence boundaries: (start, end) of each terminator run ("。", "？！" …)
        runs = [(m.start(), m.end()) for m in _SENTENCE_RX.finditer(norm) if m.start() > 0]
        lead_start, lead_end = 0, runs[0][0] if runs else len(norm) + 1
        if runs:
            # skip short opening sentences without category/kind evidence ("你好。", "我是5栋业主。")
            weights = self._weights
            first = min(
                (p for key, _, p, _ in found_hits if key[0].startswith(_LEAD_TARGETS) and weights.get(key, 0) >= 1.0),
                default=0,
            )
            k = 0
            while (
                k < min(len(runs), _MAX_SKIPPED_OPENERS)
                and first >= runs[k][1]
                and runs[k][0] - lead_start <= _OPENER_MAX_CHARS
            ):
                lead_start = runs[k][1]
                k += 1
            lead_end = runs[k][0] if k < len(runs) else len(norm) + 1
        lead: dict[tuple[str, str, str], int] = {}
        body: dict[tuple[str, str, str], int] = {}
        shown: dict[tuple[str, str, str], str] = {}
        direct: set[tuple[str, str, str]] = set()  # keys found at least once as a whole token
        for key, term, p, partial in found_hits:
            counts = lead if lead_start <= p < lead_end else body
            counts[key] = counts.get(key, 0) + 1
            if key not in shown:
                shown[key] = term
            if not partial:
                direct.add(key)
        factor = self._compound_factor
        return [
            _Match(
                key=key,
                term=term,
                lead=lead.get(key, 0),
                body=body.get(key, 0),
                scale=1.0 if key in direct else factor,
            )
            for key, term in shown.items()
        ]

    def _factor(self, m: _Match) -> float:
        """Occurrence multiplier: first sentence boosted, repeats add a capped share."""
        lead_mult, body_mult = self._mults.get(m.key[0].split(":", 1)[0], self._default_mults)
        if m.lead:
            first = lead_mult
        elif m.body:
            first = body_mult
        else:
            return 0.0
        rest = lead_mult * m.lead + body_mult * m.body - first
        s = self.settings
        return first + min(s["repeat_cap"] * first, s["repeat_factor"] * rest)

    # -- decision ------------------------------------------------------------------------------

    def _decide(self, matches: list[_Match], weights: Mapping[tuple[str, str, str], float]) -> Classification:
        s = self.settings
        scores: dict[str, float] = defaultdict(float)
        requires: set[str] = set()
        hits: list[KeywordHit] = []
        symptoms = 0.0  # a stated problem is complaint evidence
        for m in matches:
            w = weights.get(m.key, 0.0)
            if w == 0:
                continue
            target, leaf, _ = m.key
            if leaf == "requires":
                requires.add(target)
                continue
            eff = round(w * self._factor(m) * m.scale, 2)
            scores[target] += eff
            if leaf == "symptoms" and target.startswith("category:"):
                symptoms += eff
            hits.append(KeywordHit(term=m.term, weight=eff, target=target))

        # category
        best_prop, prop = self._prop_targets[0][0], scores.get(self._prop_targets[0][1], 0.0)
        for c, t in self._prop_targets[1:]:
            v = scores.get(t, 0.0)
            if v > prop:
                best_prop, prop = c, v
        other = scores.get("category:其他", 0.0)
        context = min(scores.get("context:property", 0.0), s["context_cap"]) * s["context_weight"]
        if prop <= 0 and other <= 0:
            category, confidence = Category.OTHER, s["no_evidence_confidence"]
        elif prop + context < s["min_property_score"] or other >= (prop + context) * s["other_margin"]:
            category = Category.OTHER
            confidence = (other + 1.0) / (other + prop + context + 2.0)
        else:
            category = best_prop
            runner = max(scores.get(t, 0.0) for c, t in self._cat_targets if c is not best_prop)
            confidence = (prop + context) / (prop + context + runner + 1.5)
        confidence = max(0.0, min(1.0, confidence))

        # flags
        flags = set()
        for flag, target in self._flag_targets:
            if scores.get(target, 0.0) >= s["flag_threshold"] and (target not in self._gated or target in requires):
                flags.add(flag)

        # kind
        complaint = scores.get("kind:投诉", 0.0) + symptoms * s["kind_symptom_factor"]
        inquiry, suggestion = scores.get("kind:咨询", 0.0), scores.get("kind:建议", 0.0)
        best_kind, best_score = (Kind.SUGGESTION, suggestion) if suggestion > inquiry else (Kind.INQUIRY, inquiry)
        kind = Kind.COMPLAINT
        if best_score >= s["kind_threshold"] and best_score > complaint + s["kind_margin"]:
            kind = best_kind

        # severity
        if scores.get("severity:urgent", 0.0) >= s["severity_threshold"] or flags & _URGENT_FLAGS:
            severity = Severity.URGENT
        elif scores.get("severity:important", 0.0) >= s["severity_threshold"] and kind is Kind.COMPLAINT:
            severity = Severity.IMPORTANT
        else:
            severity = Severity.GENERAL

        # only show flag hits when the flag actually fired (gated flags may not)
        if flags != _ALL_FLAGS:
            fired = {f"flag:{f.value}" for f in flags}
            hits = [h for h in hits if not h.target.startswith("flag:") or h.target in fired]
        hits.sort(key=lambda h: (-h.weight, h.target, h.term))
        return Classification(
            category=category,
            kind=kind,
            severity=severity,
            confidence=round(confidence, 3),
            keywords=tuple(hits),
            flags=frozenset(flags),
        )

    def classify(self, text: str) -> Classification:
        """Classify one resident message."""
        return self._decide(self._match(text or ""), self._weights)


_default_lock = threading.Lock()
_default: Classifier | None = None


def get_classifier() -> Classifier:
    """Process-wide default classifier (jieba and the lexicon are loaded once)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Classifier.load()
    return _default


def _reset_default_classifier() -> None:
    """Forget the cached default classifier (tests, or after an admin edited the lexicon)."""
    global _default
    with _default_lock:
        _default = None


# --------------------------------------------------------------------------------------------
# Learning from staff corrections
# --------------------------------------------------------------------------------------------


def _category_of(name: str) -> Category:
    try:
        return Category(name)
    except ValueError:
        raise ValueError(f"unknown category {name!r}") from None


def learn_weights(
    corrections: Iterable[tuple[str, str, str]],
    lexicon: Lexicon,
    *,
    learning_rate: float = 0.5,
    min_weight: float = 0.0,
    max_weight: float = 6.0,
    epochs: int = 3,
    new_term_support: int = 2,
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Propose category-weight adjustments from staff corrections (perceptron style).

    ``corrections``: (text, predicted category, corrected category) tuples.  For every correction
    that the current weights still get wrong, the weights of matched category terms that voted
    for the wrong category are lowered by ``learning_rate``, and every term matched in the text
    that is category evidence (any category) is raised by ``learning_rate`` for the corrected
    category (added there if absent).  Content words that are not in the lexicon but occur in at
    least ``new_term_support`` corrections to the same category are added to it.  Weights stay
    within [min_weight, max_weight]; a few passes (``epochs``) are made.

    Returns only the changed weights, shaped like an overlay file:
    ``{"category": {"工程管理": {"terms": {"电梯": 3.5}}}}`` — pass it to :func:`write_overlay`.
    """
    items = [(text, _category_of(pred), _category_of(corr)) for text, pred, corr in corrections]
    clf = Classifier(lexicon)
    base = lexicon.weights()
    weights = dict(base)
    leaf_of: dict[tuple[str, str], str] = {}  # (category target, term) → leaf
    for e in lexicon.entries:
        if e.target.startswith("category:") and e.leaf != "patterns":
            leaf_of[(e.target, e.term)] = e.leaf
    matched = [clf._match(text) for text, _, _ in items]

    # candidate new terms: content words seen in several corrections to the same category
    support: dict[tuple[str, str], int] = defaultdict(int)
    for text, _, corr in items:
        words = {
            w
            for w in clf._tokenizer.lcut(normalize(text), HMM=True)
            if len(w) >= 2 and w not in lexicon.stopwords and not re.fullmatch(r"[\w.]*\d[\w.]*", w)
            and not any(ch in _PUNCT for ch in w)
        }
        for w in words:
            support[(f"category:{corr.value}", w)] += 1
    for (target, word), count in support.items():
        if count >= new_term_support and (target, word) not in leaf_of:
            key = (target, "terms", word)
            weights[key] = min(max_weight, max(weights.get(key, 0.0), learning_rate))
            leaf_of[(target, word)] = "terms"

    def clamp(x: float) -> float:
        return max(min_weight, min(max_weight, x))

    for epoch in range(max(1, epochs)):
        changed = False
        for (text, staff_pred, corr), ms in zip(items, matched):
            current = clf._decide(ms, weights).category
            if epoch == 0 and current is corr and staff_pred is not corr:
                current = staff_pred  # trust what staff saw for the first pass
            if current is corr:
                continue
            changed = True
            wrong, right = f"category:{current.value}", f"category:{corr.value}"
            for m in ms:
                target, leaf, term = m.key
                if not target.startswith("category:") or leaf == "patterns":
                    continue
                if target == wrong:
                    weights[m.key] = clamp(weights[m.key] - learning_rate)
                rkey = (right, leaf_of.get((right, term), leaf), term)
                weights[rkey] = clamp(weights.get(rkey, 0.0) + learning_rate)
                leaf_of[(right, term)] = rkey[1]
        if not changed:
            break

    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for key, w in sorted(weights.items()):
        if key in base and abs(base[key] - w) < 1e-9:
            continue
        if key not in base and w == 0:
            continue
        target, leaf, term = key
        group, name = target.split(":", 1)
        out.setdefault(group, {}).setdefault(name, {}).setdefault(leaf, {})[term] = round(w, 3)
    return out


def _toml_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_overlay(adjustments: Mapping[str, Any], path: str | Path, *, merge: bool = True) -> Path:
    """Write weight adjustments (from :func:`learn_weights`) as a TOML overlay file.

    With ``merge`` an existing overlay at ``path`` is kept and updated.  Point
    ``LEXICON_OVERLAY_PATH`` at the file (or pass it to :func:`load_lexicon`) to use it.
    """
    path = Path(path)
    merged: dict[str, Any] = {}
    if merge and path.exists():
        data, _ = _read_toml(path)
        merged = {k: v for k, v in data.items() if k in _TERM_GROUPS}
    for group, names in adjustments.items():
        for name, leaves in names.items():
            for leaf, terms in leaves.items():
                merged.setdefault(group, {}).setdefault(name, {}).setdefault(leaf, {}).update(terms)
    lines = [
        "# Huifang classifier overlay: learned weights merged over the lexicon at load.",
        "# Each value replaces the lexicon weight of that term (0 disables it); new terms are added.",
        "",
        "[overlay]",
        'source = "learn_weights"',
        "",
    ]
    for group in _TERM_GROUPS:
        for name, leaves in sorted(merged.get(group, {}).items()):
            for leaf, terms in sorted(leaves.items()):
                lines.append(f"[{group}.{_toml_key(name)}.{leaf}]")
                for term, w in sorted(terms.items()):
                    wv = w["weight"] if isinstance(w, dict) else w
                    lines.append(f"{_toml_key(term)} = {float(wv)!r}")
                lines.append("")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def content_words(classifier: Classifier, text: str) -> set[str]:
    """Words that carry the matter (for "same matter" checks): two or more characters, no stop
    words, no numbers or punctuation."""
    stop = classifier.lexicon.stopwords if hasattr(classifier, "lexicon") else frozenset()
    return {w for w in classifier.tokenize(text)
            if len(w) >= 2 and w not in stop and not any(ch.isdigit() or ch in _PUNCT for ch in w)}
