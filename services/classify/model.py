"""The learned second opinion: complement naive Bayes over the classifier's own words.

A :class:`TokenModel` holds, for every content word of its training messages, one weight per
category (complement naive Bayes, centred), plus *reliability* factors for lexicon terms that
labelled messages and staff corrections show to mislead.  At classification time the model only
adds up the weights of the words of a message — no scikit-learn, no numpy — so it costs a few
dictionary lookups.  Training lives in :mod:`services.classify.training`.

The file is JSON (``format``, ``version``, ``revision``), written by ``python -m bot classify
--learn`` and by the scheduled retrain.  It also keeps the *sufficient statistics* of the labelled
training sets (per-category word counts, not the texts), so a later retrain can add new staff
corrections without the original training files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.domain import Category

MODEL_FORMAT = "huifang-classifier-model"
MODEL_VERSION = 1
MODEL_ENV = "CLASSIFIER_MODEL_PATH"
DEFAULT_MODEL_PATH = Path("data") / "classifier-model.json"  # next to data/lexicon-overlay.toml
SHIPPED_MODEL_PATH = Path(__file__).resolve().parents[1] / "lexicon" / "classifier-model.json"
OFF_VALUES = frozenset({"", "off", "none", "0", "false"})
CATEGORIES = tuple(Category)

# a model feature is a run of Chinese characters (no digits, latin letters or punctuation)
_FEATURE_RX = re.compile(r"[\u4E00-\u9FFF]+")

log = logging.getLogger(__name__)


class ModelError(ValueError):
    """The model file is missing, malformed or of another format version."""


def features(tokens: Iterable[str], stopwords: frozenset[str]) -> set[str]:
    """The words of a segmented message the model looks at: Chinese, not a stop word."""
    match = _FEATURE_RX.fullmatch
    return {t for t in tokens if t not in stopwords and match(t)}


def key_text(key: tuple[str, str, str]) -> str:
    """A lexicon entry key as one string (JSON object keys): ``target|leaf|term``."""
    return "|".join(key)


def key_tuple(text: str) -> tuple[str, str, str]:
    target, leaf, term = text.split("|", 2)
    return target, leaf, term


def text_hash(normalised: str) -> str:
    """Short fingerprint of a normalised training text (to tell in-sample evaluations)."""
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()[:12]


def lexicon_fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


class ModelVote:
    """What the model says about one message (its explanation is computed on demand)."""

    __slots__ = ("category", "runner_up", "margin", "_scores", "_found", "_best", "_second")

    def __init__(self, scores: list[float], found: list[tuple[str, tuple[float, ...]]], best: int,
                 second: int | None) -> None:
        self.category: Category = CATEGORIES[best]
        self.runner_up: Category | None = CATEGORIES[second] if second is not None else None
        # score of the winner minus the runner-up's (log-odds like units)
        self.margin: float = scores[best] - scores[second] if second is not None else math.inf
        self._scores, self._found, self._best, self._second = scores, found, best, second

    @property
    def probability(self) -> float:
        """Softmax of the scores of the categories seen in training: the model's own confidence."""
        top = self._scores[self._best]
        return 1.0 / sum(math.exp(x - top) for x in self._scores if x > -math.inf)

    def terms(self, max_terms: int = 5) -> tuple[tuple[str, float], ...]:
        """The words that favour the winner over the runner-up, with how much; words before
        single characters (more telling to staff), each group strongest first."""
        best, second = self._best, self._second
        if second is None:
            favour = [(t, w[best]) for t, w in self._found if w[best] > 0]
        else:
            favour = [(t, w[best] - w[second]) for t, w in self._found if w[best] > w[second]]
        favour.sort(key=lambda x: (len(x[0]) < 2, -x[1]))
        return tuple((t, round(v, 2)) for t, v in favour[:max_terms])


@dataclass
class TokenModel:
    """Per-word category weights and lexicon reliability factors; immutable after loading."""

    # word → weight per category (order: CATEGORIES), kept as ``array('d')``: a third of the memory
    # of a tuple of floats, the same values
    weights: dict[str, Sequence[float]]
    reliability: dict[tuple[str, str, str], float] = field(default_factory=dict)  # lexicon key → factor
    known: tuple[bool, ...] = tuple(True for _ in CATEGORIES)  # categories seen in training
    meta: dict[str, Any] = field(default_factory=dict)  # format, revision, created, training, params …
    base: dict[str, Any] | None = None  # sufficient statistics of the labelled sets (for retraining)
    path: Path | None = None
    # ``base`` as read from the file, still JSON (UTF-8 bytes): parsed only when retraining asks
    # for it (:meth:`statistics`); as Python objects it is most of a loaded model's memory
    base_text: bytes | str | None = field(default=None, repr=False, compare=False)

    def statistics(self) -> dict[str, Any] | None:
        """The labelled sets' sufficient statistics (``base``), parsed at first use."""
        if self.base is None and self.base_text is not None:
            self.base, self.base_text = json.loads(self.base_text), None
        return self.base

    @property
    def revision(self) -> int:
        return int(self.meta.get("revision", 0))

    def trained_on(self) -> frozenset[str]:
        """Fingerprints (:func:`text_hash`) of the messages this model was trained on."""
        return frozenset(self.meta.get("training", {}).get("text_hashes", ()))

    def vote(self, tokens: Iterable[str]) -> ModelVote | None:
        """The model's category for a segmented message, or None when it knows none of its words."""
        weights = self.weights
        found = [(t, w) for t in set(tokens) if (w := weights.get(t)) is not None]
        if not found:
            return None
        scores = [sum(column) for column in zip(*(w for _, w in found))]
        best = second = None
        for c in self._known_indices:
            x = scores[c]
            if best is None or x > scores[best]:
                best, second = c, best
            elif second is None or x > scores[second]:
                second = c
        for c in self._unknown_indices:
            scores[c] = -math.inf
        return ModelVote(scores, found, best, second)

    def __post_init__(self) -> None:
        self.weights = {t: w if isinstance(w, array) else array("d", w) for t, w in self.weights.items()}
        self._known_indices = tuple(c for c, k in enumerate(self.known) if k)
        self._unknown_indices = tuple(c for c, k in enumerate(self.known) if not k)

    # -- file ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.meta.items() if k not in ("format", "version")},
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "classes": [c.value for c in CATEGORIES],
            "known": [c.value for c, k in zip(CATEGORIES, self.known) if k],
            "weights": {t: [round(x, 4) for x in w] for t, w in sorted(self.weights.items())},
            "reliability": {key_text(k): round(v, 4) for k, v in sorted(self.reliability.items())},
            "base": self.statistics(),
        }

    def save(self, path: str | Path, *, keep_previous: bool = True) -> Path:
        """Write the model atomically; an existing file is kept as ``<name>.prev.json``."""
        path = Path(path)
        keep_previous = keep_previous and path.resolve() != SHIPPED_MODEL_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        if keep_previous and path.exists():
            path.replace(path.with_name(path.stem + ".prev" + path.suffix))
        tmp.replace(path)
        self.path = path
        return path


def load_model(path: str | Path) -> TokenModel:
    """Read a model file; raises :class:`ModelError` on anything unexpected."""
    path = Path(path)
    try:
        data, base_text = _parse_model_text(path.read_bytes())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc}") from exc
    except ValueError as exc:
        raise ModelError(f"{path}: not a JSON model file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a {MODEL_FORMAT} file")
    if data.get("version") != MODEL_VERSION:
        raise ModelError(f"{path}: model format version {data.get('version')!r}, this code reads {MODEL_VERSION}")
    classes = data.get("classes")
    if classes != [c.value for c in CATEGORIES]:
        raise ModelError(f"{path}: unexpected category list {classes!r}")
    try:
        n = len(CATEGORIES)
        weights = {}
        for token, w in data["weights"].items():
            if not isinstance(token, str) or len(w) != n:
                raise ModelError(f"{path}: bad weights for {token!r}")
            weights[token] = array("d", w)
        reliability = {key_tuple(k): float(v) for k, v in data.get("reliability", {}).items()}
        known_names = set(data.get("known", classes))
        known = tuple(c.value in known_names for c in CATEGORIES)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: malformed model: {exc}") from exc
    meta = {k: v for k, v in data.items() if k not in ("weights", "reliability", "base", "classes", "known")}
    return TokenModel(weights=weights, reliability=reliability, known=known, meta=meta, base=data.get("base"),
                      path=path, base_text=base_text)


_BASE_KEY = b',"base":'


def _parse_model_text(text: bytes) -> tuple[Any, bytes | None]:
    """The model file's JSON (UTF-8) without its last member ``"base"`` (as :meth:`TokenModel.save`
    writes it), and that member's text; any other layout is parsed whole (text None).

    Cutting at the first ``,"base":`` is safe: the head parses as an object only when the cut is at
    the top level (inside a JSON string the quotes would be escaped), where ``base`` is unique.
    """
    cut = text.find(_BASE_KEY)
    stripped = text.rstrip()
    if cut > 0 and stripped.endswith(b"}"):
        try:
            head = json.loads(text[:cut] + b"}")
        except ValueError:
            head = None
        if isinstance(head, dict) and "base" not in head:
            return head, stripped[cut + len(_BASE_KEY):-1]
    return json.loads(text), None


def resolve_model_path(path: str | Path | None = None) -> Path | None:
    """Which model file to use: ``path``, else ``$CLASSIFIER_MODEL_PATH``, else
    ``data/classifier-model.json`` if it exists, else the shipped model; None = lexicon alone.

    ``off`` (or an empty value) switches the model off.  A configured file that does not exist
    (yet: nothing was retrained) falls back to the shipped model.
    """
    raw = str(path) if path is not None else os.environ.get(MODEL_ENV)
    if raw is not None and raw.strip().lower() in OFF_VALUES:
        return None
    candidate = Path(raw) if raw is not None else DEFAULT_MODEL_PATH
    if candidate.exists():
        return candidate
    return SHIPPED_MODEL_PATH if SHIPPED_MODEL_PATH.exists() else None


def load_default_model(path: str | Path | None = None) -> TokenModel | None:
    """The model :func:`resolve_model_path` names, or None (logged) when there is none or it is bad."""
    resolved = resolve_model_path(path)
    if resolved is None:
        return None
    try:
        return load_model(resolved)
    except ModelError as exc:
        log.warning("classifier model not used (the lexicon decides alone): %s", exc)
        return None


def lexicon_weights(weights: Mapping[tuple[str, str, str], float],
                    reliability: Mapping[tuple[str, str, str], float]) -> dict[tuple[str, str, str], float]:
    """Lexicon weights with the model's reliability factors applied."""
    out = dict(weights)
    for key, factor in reliability.items():
        if key in out:
            out[key] = out[key] * factor
    return out
