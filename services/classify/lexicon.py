"""The keyword lexicon: loading, validation and overlays (``services/lexicon/lexicon.toml``)."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.domain import Category, Flag, Kind
from services.text_norm import normalize

DEFAULT_LEXICON_PATH = Path(__file__).resolve().parents[1] / "lexicon" / "lexicon.toml"
LEXICON_ENV = "LEXICON_PATH"
EDITED_LEXICON_PATH = Path("data/lexicon.toml")  # the admin's edited copy (services.lexicon_edit)
OVERLAY_ENV = "LEXICON_OVERLAY_PATH"

_SEVERITY_GROUPS = ("urgent", "important")
_CONTEXT_GROUPS = ("property",)
_LEAF_KINDS = ("terms", "symptoms", "patterns", "requires")
_ENTRY_FIELDS = {"weight", "negatable"}
_DEFAULT_SETTINGS: dict[str, float] = {
    "negation_window": 3,  # tokens looked at before (and after) a symptom for negation
    "lead_boost": 1.6,  # multiplier for hits in the first sentence (subject line)
    "kind_lead_boost": 2.5,  # kind is mostly decided by the subject line: its hits count this much …
    "kind_body_factor": 0.4,  # … and kind hits in the rest of the message this much
    "kind_symptom_factor": 0.0,  # share of category *symptom* evidence (坏了, 漏水 …) credited to 投诉
    "kind_severity_factor": 0.0,  # share of severity evidence (又坏了, 没人修, 煤气味 …) credited to 投诉
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
    # the learned model (services.classify.model): the lexicon decides alone when its winner leads
    # the runner-up (or the threshold it had to pass) by at least this much — one strong term …
    "lexicon_strong_margin": 2.0,
    # … a lexicon decision closer than this is a close call (staff see both categories) …
    "lexicon_uncertain_margin": 1.0,
    # … and so is a model decision whose winner leads by less than this (model score units)
    "model_uncertain_margin": 0.5,
}
_INT_SETTINGS = {
    "negation_window",
    "max_terms_per_window",
    "compound_min_chars",
    "compound_max_rest",
    "compound_max_chars",
}
# a compound whose remaining part contains one of these is not split ("无噪音", "不安全"): the
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


@dataclass(frozen=True)
class Labels:
    """Words used to explain a decision: the lexicon's ``[labels]`` and ``[reason]`` tables."""

    targets: Mapping[str, str]  # "severity:urgent" → its label
    reason: Mapping[str, str]  # template name → template (see REASON_TEMPLATES)

    def label(self, target: str) -> str:
        """The label of a target, or the target itself when the lexicon names none."""
        return self.targets.get(target, target)


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
    labels: Labels | None = None  # None: the shipped lexicon's labels
    compound_blockers: frozenset[str] = frozenset()  # characters that keep a compound token whole

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
_TOP_LEVEL = set(_TERM_GROUPS) | {
    "settings", "negation", "synonyms", "dictionary", "stopwords", "meta", "overlay", "labels", "reason",
}
_NEGATION_KEYS = ("before", "after", "blockers")
# [labels]: the word shown for each of these targets; [reason]: templates and the fields each may use
LABEL_TARGETS = (
    "severity:urgent",
    "severity:important",
    *(f"flag:{f.value}" for f in Flag),
    "context:property",
)
REASON_TEMPLATES: dict[str, frozenset[str]] = {
    "category": frozenset({"category", "terms"}),  # lexicon terms decided the category
    "model": frozenset({"category", "terms"}),  # the learned model decided it
    "category_without_terms": frozenset({"category"}),
    "other_without_terms": frozenset({"category"}),  # 'other' for want of property evidence
    "no_keywords": frozenset({"category"}),  # nothing matched at all
    "evidence": frozenset({"label", "terms"}),  # severity and flag evidence
    "uncertain": frozenset({"category", "runner_up"}),  # a close call, staff will check
    "term_separator": frozenset(),
    "part_separator": frozenset(),
}


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


def _parse_labels(data: dict[str, Any], loc: _Locator) -> tuple[dict[str, str], dict[str, str]]:
    """Validate the ``[labels]`` and ``[reason]`` tables (both optional)."""
    targets: dict[str, str] = {}
    block = data.get("labels", {})
    if not isinstance(block, dict):
        raise loc.error(loc.header_line(("labels",)), "[labels] must be a table")
    for key, value in block.items():
        if key not in LABEL_TARGETS:
            raise loc.error(loc.key_line(("labels",), key),
                            f"unknown label target {key!r} (expected one of: {', '.join(LABEL_TARGETS)})")
        if not isinstance(value, str) or not value.strip():
            raise loc.error(loc.key_line(("labels",), key), f"label of {key!r} must be a non-empty string")
        targets[key] = value
    reason: dict[str, str] = {}
    block = data.get("reason", {})
    if not isinstance(block, dict):
        raise loc.error(loc.header_line(("reason",)), "[reason] must be a table")
    for key, value in block.items():
        line = loc.key_line(("reason",), key)
        if key not in REASON_TEMPLATES:
            raise loc.error(line, f"unknown reason template {key!r} (expected one of: {', '.join(REASON_TEMPLATES)})")
        if not isinstance(value, str):
            raise loc.error(line, f"reason template {key!r} must be a string")
        allowed = REASON_TEMPLATES[key]
        try:
            value.format(**{name: "" for name in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            raise loc.error(line, f"reason template {key!r} may only use {sorted(allowed) or 'no fields'}: {exc}") from exc
        reason[key] = value
    return targets, reason


_shipped_labels: Labels | None = None
_labels_lock = threading.Lock()


def shipped_labels() -> Labels:
    """The shipped lexicon's labels (cached): the fallback for lexicons that define none."""
    global _shipped_labels
    if _shipped_labels is None:
        with _labels_lock:
            if _shipped_labels is None:
                data, loc = _read_toml(DEFAULT_LEXICON_PATH)
                targets, reason = _parse_labels(data, loc)
                missing = [k for k in (*LABEL_TARGETS, *REASON_TEMPLATES) if k not in targets and k not in reason]
                if missing:
                    raise loc.error(None, f"the shipped lexicon lacks labels or reason templates: {missing}")
                _shipped_labels = Labels(targets=targets, reason=reason)
    return _shipped_labels


def _labels(data: dict[str, Any], loc: _Locator, path: Path) -> Labels:
    targets, reason = _parse_labels(data, loc)
    if path.resolve() != DEFAULT_LEXICON_PATH.resolve():
        shipped = shipped_labels()
        targets = {**shipped.targets, **targets}
        reason = {**shipped.reason, **reason}
    missing = [k for k in (*LABEL_TARGETS, *REASON_TEMPLATES) if k not in targets and k not in reason]
    if missing:
        raise loc.error(None, f"missing labels or reason templates: {missing}")
    return Labels(targets=targets, reason=reason)


def _resolve_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get(LEXICON_ENV)
    if env:
        return Path(env)
    return EDITED_LEXICON_PATH if EDITED_LEXICON_PATH.is_file() else DEFAULT_LEXICON_PATH


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

    negation = data.get("negation", {})
    if isinstance(negation, dict):
        for key in negation:
            if key not in _NEGATION_KEYS:
                raise loc.error(loc.key_line(("negation",), key),
                                f"unknown key {key!r} in [negation] (expected one of: {', '.join(_NEGATION_KEYS)})")
    negation_before = frozenset(_string_list(data, loc, "negation", "before"))
    negation_after = frozenset(_string_list(data, loc, "negation", "after"))
    blockers = frozenset(ch for word in _string_list(data, loc, "negation", "blockers") for ch in word)
    labels = _labels(data, loc, lex_path)
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
        labels=labels,
        compound_blockers=blockers,
    )
