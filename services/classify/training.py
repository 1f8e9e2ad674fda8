"""Training the learned model and measuring the classifier honestly (k-fold cross-validation).

Everything here is plain Python over the classifier's own segmentation: each labelled message
is run through the lexicon once (:func:`prepare`), its words are counted per category
(:class:`Statistics`), and :func:`fit` turns the counts into a :class:`TokenModel`:

* complement naive Bayes word weights (the formula of scikit-learn's ``ComplementNB`` with
  ``alpha`` smoothing, binary word presence, words seen in fewer than ``min_df`` messages left
  out; ``tests/services/test_classify_model.py`` checks the weights against scikit-learn);
* reliability factors for lexicon terms: a category term that voted for the lexicon's decision
  in at least ``reliability_min_wrong`` messages whose label (or staff correction) was another
  category loses weight in proportion to its estimated precision.

:func:`cross_validate` refits all of this on the training folds only and scores the held-out
fold three ways: the lexicon alone, the model alone and the two combined.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.classify.classifier import Classifier, _Match
from services.classify.metrics import metrics
from services.classify.model import (
    CATEGORIES,
    TokenModel,
    features,
    key_text,
    key_tuple,
    lexicon_fingerprint,
    lexicon_weights,
    text_hash,
)
from services.domain import Category, Kind
from services.text_norm import normalize

CORRECTIONS = "corrections"  # the source name of staff corrections
FULL_STOP = chr(0x3002)  # the ideographic full stop that joins a labelled message's title and detail


@dataclass(frozen=True)
class TrainingParams:
    """How a model is fitted; stored in the model file."""

    alpha: float = 1.0  # additive smoothing of the complement counts
    min_df: int = 2  # a word must occur in this many training messages
    correction_weight: float = 3.0  # a staff correction counts as this many labelled messages
    reliability_prior: tuple[float, float] = (4.0, 1.0)  # pseudo-counts (right, wrong) of a lexicon term
    reliability_min_wrong: int = 3  # a term is discounted only after this many misleading messages
    prune: float = 0.02  # words whose weights all lie within this of their mean are dropped

    def to_json(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "min_df": self.min_df, "correction_weight": self.correction_weight,
                "reliability_prior": list(self.reliability_prior),
                "reliability_min_wrong": self.reliability_min_wrong, "prune": self.prune}


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    text: str
    category: Category
    kind: Kind | None = None
    weight: float = 1.0
    source: str = ""


def read_examples(path: str | Path) -> list[Example]:
    """Labelled TSV (``id, category, kind, title, detail``; header and blank lines skipped);
    the text is the title, plus an ideographic full stop and the detail when there is one."""
    path = Path(path)
    out = []
    with path.open(encoding="utf-8-sig") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if number == 1 and cols[0].strip().lower() == "id":
                continue
            if len(cols) < 4:
                raise ValueError(f"{path}, line {number}: expected 'id, category, kind, title, detail' columns")
            try:
                category, kind = Category(cols[1].strip()), Kind(cols[2].strip())
            except ValueError as exc:
                raise ValueError(f"{path}, line {number}: {exc}") from None
            detail = cols[4] if len(cols) > 4 else ""
            text = cols[3] + (FULL_STOP + detail if detail.strip() else "")
            out.append(Example(text=text, category=category, kind=kind, source=path.name))
    return out


@dataclass(frozen=True)
class Prepared:
    """An example run through the lexicon once: what both the lexicon and the model need."""

    example: Example
    matches: list[_Match]
    tokens: list[str]
    words: frozenset[str]  # the model's features
    lexicon_category: Category  # the lexicon's own decision (base weights)
    decisive: tuple[tuple[str, str, str], ...]  # the lexicon terms that voted for that decision
    fingerprint: str


def prepare(classifier: Classifier, examples: Iterable[Example]) -> list[Prepared]:
    """Run each example through the classifier's lexicon (its own weights, no model)."""
    stop = classifier.lexicon.stopwords
    base = classifier._weights
    out = []
    for ex in examples:
        matches, tokens = classifier._scan(ex.text)
        decision = classifier._decide(matches, base)
        target = f"category:{decision.category.value}"
        decisive = tuple(m.key for m in matches if m.key[0] == target and m.key[1] != "requires"
                         and base.get(m.key, 0.0) > 0)
        out.append(Prepared(example=ex, matches=matches, tokens=tokens, words=frozenset(features(tokens, stop)),
                            lexicon_category=decision.category, decisive=decisive,
                            fingerprint=text_hash(normalize(ex.text))))
    return out


REFERENCE_WORDS = 10


def length_factor(words: int) -> float:
    """Per-word count of a message with this many features (square-root length normalisation)."""
    return math.sqrt(REFERENCE_WORDS / max(1, words))


@dataclass
class Statistics:
    """Sufficient statistics of a training set: weighted per-category word presence counts,
    document frequencies, and per lexicon term how often it voted right or wrong."""

    docs: list[float] = field(default_factory=lambda: [0.0] * len(CATEGORIES))
    counts: dict[str, list[float]] = field(default_factory=dict)
    df: Counter = field(default_factory=Counter)
    lexicon: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)  # key → [right, wrong]
    sources: Counter = field(default_factory=Counter)
    fingerprints: set[str] = field(default_factory=set)
    lexicon_sha: str = ""

    def add(self, item: Prepared, weight: float | None = None) -> None:
        ex = item.example
        # a message's words count ``weight * sqrt(REFERENCE_WORDS / words)`` each: long web
        # messages must not drown short chat messages (and count no less than 1/3 of a short one)
        w = (ex.weight if weight is None else weight) * length_factor(len(item.words))
        c = CATEGORIES.index(ex.category)
        self.docs[c] += w
        n = len(CATEGORIES)
        for word in item.words:
            row = self.counts.get(word)
            if row is None:
                row = self.counts[word] = [0.0] * n
            row[c] += w
            self.df[word] += 1
        right = item.lexicon_category is ex.category
        for key in item.decisive:
            tally = self.lexicon.setdefault(key, [0.0, 0.0])
            tally[0 if right else 1] += 1
        self.sources[ex.source or "?"] += 1
        self.fingerprints.add(item.fingerprint)

    def extend(self, items: Iterable[Prepared]) -> Statistics:
        for item in items:
            self.add(item)
        return self

    def merged(self, other: Statistics) -> Statistics:
        out = Statistics(docs=[a + b for a, b in zip(self.docs, other.docs)],
                         counts={w: list(r) for w, r in self.counts.items()}, df=self.df + other.df,
                         lexicon={k: list(v) for k, v in self.lexicon.items()}, sources=self.sources + other.sources,
                         fingerprints=self.fingerprints | other.fingerprints, lexicon_sha=self.lexicon_sha)
        for word, row in other.counts.items():
            mine = out.counts.setdefault(word, [0.0] * len(CATEGORIES))
            for i, x in enumerate(row):
                mine[i] += x
        for key, (right, wrong) in other.lexicon.items():
            tally = out.lexicon.setdefault(key, [0.0, 0.0])
            tally[0] += right
            tally[1] += wrong
        return out

    @property
    def examples(self) -> int:
        return sum(self.sources.values())

    def to_json(self, min_df: int) -> dict[str, Any]:
        """The statistics as stored in a model file (words below ``min_df`` left out)."""
        kept = sorted(w for w, n in self.df.items() if n >= min_df)
        return {
            "docs": [round(x, 4) for x in self.docs],
            "counts": {w: [round(x, 4) for x in self.counts[w]] for w in kept},
            "df": {w: self.df[w] for w in kept},
            "lexicon": {key_text(k): v for k, v in sorted(self.lexicon.items())},
            "sources": dict(self.sources),
            "text_hashes": sorted(self.fingerprints),
            "lexicon_sha": self.lexicon_sha,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statistics:
        return cls(docs=[float(x) for x in data["docs"]],
                   counts={w: [float(x) for x in row] for w, row in data["counts"].items()},
                   df=Counter({w: int(n) for w, n in data["df"].items()}),
                   lexicon={key_tuple(k): [float(v[0]), float(v[1])] for k, v in data.get("lexicon", {}).items()},
                   sources=Counter(data.get("sources", {})), fingerprints=set(data.get("text_hashes", ())),
                   lexicon_sha=data.get("lexicon_sha", ""))


def complement_weights(stats: Statistics, params: TrainingParams) -> dict[str, tuple[float, ...]]:
    """Complement naive Bayes weights per word, centred on their mean over the categories.

    For category ``c`` and word ``t``: ``-log((N(t, not c) + alpha) / sum_t'(N(t', not c) + alpha))``
    — scikit-learn's ``ComplementNB(norm=False).feature_log_prob_`` — minus the word's mean over
    the categories (which changes no decision and makes uninformative words near zero).
    """
    n = len(CATEGORIES)
    vocab = [w for w, k in stats.df.items() if k >= params.min_df and w in stats.counts]
    if not vocab:
        return {}
    alpha = params.alpha
    totals = [0.0] * n
    for w in vocab:
        row = stats.counts[w]
        for c in range(n):
            totals[c] += row[c]
    grand = sum(totals)
    norm = [grand - totals[c] + alpha * len(vocab) for c in range(n)]
    log_norm = [math.log(x) for x in norm]
    out: dict[str, tuple[float, ...]] = {}
    for w in vocab:
        row = stats.counts[w]
        all_ = sum(row)
        weights = [log_norm[c] - math.log(all_ - row[c] + alpha) for c in range(n)]
        mean = sum(weights) / n
        centred = tuple(x - mean for x in weights)
        if max(abs(x) for x in centred) >= params.prune:
            out[w] = centred
    return out


def reliability_factors(stats: Statistics, params: TrainingParams) -> dict[tuple[str, str, str], float]:
    """Weight factors (< 1) for lexicon terms that often voted for a decision the label overruled."""
    a, b = params.reliability_prior
    prior = a / (a + b)
    out = {}
    for key, (right, wrong) in stats.lexicon.items():
        if wrong >= params.reliability_min_wrong:
            factor = ((right + a) / (right + wrong + a + b)) / prior
            if factor < 1.0:
                out[key] = factor
    return out


def fit(stats: Statistics, params: TrainingParams = TrainingParams(), *, base: Statistics | None = None,
        meta: dict[str, Any] | None = None) -> TokenModel:
    """A :class:`TokenModel` from training statistics; ``base`` (the labelled sets without
    corrections) is stored in the model for later retraining."""
    known = tuple(d > 0 for d in stats.docs)
    return TokenModel(weights=complement_weights(stats, params), reliability=reliability_factors(stats, params),
                      known=known, meta=dict(meta or {}), base=base.to_json(params.min_df) if base else None)


def train(classifier: Classifier, *, base: Statistics, corrections: Sequence[Example] = (),
          params: TrainingParams = TrainingParams(), now: datetime, revision: int = 1,
          last_correction_id: int | None = None) -> TokenModel:
    """Fit a model on the labelled sets' statistics plus staff corrections."""
    weighted = [Example(text=c.text, category=c.category, weight=params.correction_weight, source=CORRECTIONS)
                for c in corrections]
    extra = Statistics().extend(prepare(classifier, weighted))
    total = base.merged(extra)
    lexicon = classifier.lexicon
    meta = {
        "revision": revision,
        "created": now.isoformat(timespec="seconds"),
        "lexicon": {"file": lexicon.path.name, "sha": lexicon_fingerprint(lexicon.path)},
        "params": params.to_json(),
        "training": {
            "examples": total.examples,
            "sources": dict(total.sources),
            "corrections": len(weighted),
            "last_correction_id": last_correction_id,
            "text_hashes": sorted(total.fingerprints),
        },
    }
    return fit(total, params, base=base, meta=meta)


def base_statistics(classifier: Classifier, paths: Iterable[str | Path]) -> Statistics:
    """Statistics of labelled TSV files (their texts run through ``classifier``'s lexicon)."""
    examples = [ex for path in paths for ex in read_examples(path)]
    stats = Statistics().extend(prepare(classifier, examples))
    stats.lexicon_sha = lexicon_fingerprint(classifier.lexicon.path)
    return stats


# --------------------------------------------------------------------------------------------
# Cross-validation
# --------------------------------------------------------------------------------------------


def stratified_folds(labels: Sequence[Any], k: int, seed: int = 17) -> list[list[int]]:
    """``k`` folds of indices, each label spread evenly (shuffled per label with ``seed``)."""
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if k > len(labels):
        raise ValueError(f"{k} folds for {len(labels)} messages")
    by_label: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    rnd = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for label in sorted(by_label, key=str):
        indices = by_label[label]
        rnd.shuffle(indices)
        for i in indices:
            folds[position % k].append(i)
            position += 1
    return [sorted(f) for f in folds]


@dataclass(frozen=True)
class Scores:
    """Category accuracy, macro-F1 (over categories present in gold or predictions), kind accuracy."""

    n: int
    accuracy: float
    macro_f1: float
    kind_accuracy: float | None

    @classmethod
    def of(cls, gold: Sequence[Category], predicted: Sequence[Category],
           gold_kinds: Sequence[Kind | None] = (), predicted_kinds: Sequence[Kind] = ()) -> Scores:
        m = metrics([c.value for c in gold], [c.value for c in predicted], [c.value for c in Category])
        pairs = [(g, p) for g, p in zip(gold_kinds, predicted_kinds) if g is not None]
        kind = sum(g is p for g, p in pairs) / len(pairs) if pairs else None
        return cls(n=len(gold), accuracy=m["accuracy"], macro_f1=m["macro_f1"], kind_accuracy=kind)


@dataclass(frozen=True)
class FoldScores:
    fold: int
    lexicon: Scores
    model: Scores
    combined: Scores
    uncertain: int  # combined decisions flagged as close calls
    uncertain_wrong: int  # … of which wrong
    wrong: int  # combined decisions that were wrong


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold and pooled figures of a k-fold cross-validation."""

    folds: tuple[FoldScores, ...]
    pooled: dict[str, Scores]  # "lexicon" / "model" / "combined" over all held-out predictions
    extra: int  # extra training messages added to every training fold

    def mean(self, which: str) -> Scores:
        rows = [getattr(f, which) for f in self.folds]
        kinds = [r.kind_accuracy for r in rows if r.kind_accuracy is not None]
        return Scores(n=sum(r.n for r in rows), accuracy=sum(r.accuracy for r in rows) / len(rows),
                      macro_f1=sum(r.macro_f1 for r in rows) / len(rows),
                      kind_accuracy=sum(kinds) / len(kinds) if kinds else None)


def cross_validate(classifier: Classifier, examples: Sequence[Example], *, folds: int = 5, seed: int = 17,
                   extra: Sequence[Example] = (), params: TrainingParams = TrainingParams(),
                   on_fold: Callable[[int, TokenModel, list[Prepared]], None] | None = None,
                   prepared: Sequence[Prepared] | None = None,
                   prepared_extra: Sequence[Prepared] | None = None) -> CrossValidation:
    """k-fold cross-validation: for each fold the model and the reliability factors are fitted on
    the other folds (plus ``extra`` examples, never scored) and the held-out fold is classified by
    the lexicon alone, the model alone and both combined.  The lexicon itself is fixed.

    ``prepared`` / ``prepared_extra``: the examples already run through :func:`prepare` (to share
    that work between runs); ``on_fold(number, model, held_out)`` sees each fold's model.
    """
    items = list(prepared) if prepared is not None else prepare(classifier, examples)
    extra_items = list(prepared_extra) if prepared_extra is not None else prepare(classifier, extra)
    extra_stats = Statistics().extend(extra_items)
    base_weights = classifier._weights
    results = []
    gathered: dict[str, list] = {"gold": [], "kinds": [], "lexicon": [], "model": [], "combined": [], "pkinds": []}
    for number, test in enumerate(stratified_folds([p.example.category for p in items], folds, seed), start=1):
        held = set(test)
        stats = extra_stats.merged(Statistics().extend(p for i, p in enumerate(items) if i not in held))
        model = fit(stats, params)
        if on_fold is not None:
            on_fold(number, model, [items[i] for i in test])
        weights = lexicon_weights(base_weights, model.reliability)
        gold, kinds, lex, mod, comb, pkinds = [], [], [], [], [], []
        uncertain = uncertain_wrong = 0
        for i in test:
            p = items[i]
            alone = classifier._decide(p.matches, base_weights)
            both = classifier._decide(p.matches, weights, model=model, tokens=p.tokens)
            vote = model.vote(p.tokens)
            gold.append(p.example.category)
            kinds.append(p.example.kind)
            lex.append(alone.category)
            mod.append(vote.category if vote else Category.OTHER)
            comb.append(both.category)
            pkinds.append(both.kind)
            if both.uncertain:
                uncertain += 1
                uncertain_wrong += both.category is not p.example.category
        for key, values in (("gold", gold), ("kinds", kinds), ("lexicon", lex), ("model", mod),
                            ("combined", comb), ("pkinds", pkinds)):
            gathered[key].extend(values)
        results.append(FoldScores(
            fold=number,
            lexicon=Scores.of(gold, lex, kinds, pkinds),
            model=Scores.of(gold, mod),
            combined=Scores.of(gold, comb, kinds, pkinds),
            uncertain=uncertain,
            uncertain_wrong=uncertain_wrong,
            wrong=sum(g is not c for g, c in zip(gold, comb)),
        ))
    g = gathered
    pooled = {
        "lexicon": Scores.of(g["gold"], g["lexicon"], g["kinds"], g["pkinds"]),
        "model": Scores.of(g["gold"], g["model"]),
        "combined": Scores.of(g["gold"], g["combined"], g["kinds"], g["pkinds"]),
    }
    return CrossValidation(folds=tuple(results), pooled=pooled, extra=len(extra_items))
