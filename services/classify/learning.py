"""Learning lexicon weights from staff corrections (perceptron style) and writing overlays."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from services.classify.classifier import _PUNCT, Classifier
from services.classify.lexicon import _TERM_GROUPS, Lexicon, _read_toml
from services.domain import Category
from services.text_norm import normalize


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

    Returns only the changed weights, shaped like an overlay file —
    ``{"category": {<category>: {"terms": {<term>: 3.5}}}}`` — pass it to :func:`write_overlay`.
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
