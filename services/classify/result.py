"""What the classifier returns: :class:`KeywordHit` and :class:`Classification`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from services.classify.lexicon import Labels, shipped_labels
from services.domain import Category, Flag, Kind, Severity

LEXICON = "lexicon"  # the keyword lexicon decided (or nothing did: see Classification.source)
MODEL = "model"  # the learned model decided
NONE = "none"  # no evidence at all: the default category
SOURCES = (LEXICON, MODEL, NONE)

_SEVERITY_TARGETS = {Severity.URGENT: "severity:urgent", Severity.IMPORTANT: "severity:important"}
_FLAG_ORDER = {flag: index for index, flag in enumerate(Flag)}


class KeywordHit(NamedTuple):
    """A matched keyword: the term, its (effective) weight, what it voted for and who found it."""

    term: str
    weight: float
    target: str  # "category:<category>", "kind:<kind>", "severity:urgent", "flag:lawsuit" …
    source: str = LEXICON  # LEXICON: a lexicon term; MODEL: a word the learned model weighed

    def to_json_dict(self) -> dict[str, Any]:
        return {"term": self.term, "weight": self.weight, "target": self.target, "source": self.source}


@dataclass(frozen=True)
class Classification:
    """The classifier's decision with the evidence behind it.

    ``keywords`` holds every lexicon hit, plus — when the learned model decided the category
    (``source == "model"``) — the words that decided it, as hits with ``source="model"``.
    ``runner_up`` is the second most likely category and ``uncertain`` says the two were close:
    staff should be shown both and asked to confirm.
    """

    category: Category
    kind: Kind
    severity: Severity
    confidence: float
    keywords: tuple[KeywordHit, ...]
    flags: frozenset[Flag] = frozenset()
    runner_up: Category | None = None
    uncertain: bool = False
    source: str = LEXICON
    labels: Labels | None = field(default=None, compare=False, repr=False)

    # The generated __init__ of a frozen dataclass sets each field through object.__setattr__;
    # the classifier makes one result per message, so this one fills the instance's dict at once
    # (a third of the cost; the fields, their order and defaults as declared above).
    def __init__(self, category: Category, kind: Kind, severity: Severity, confidence: float,
                 keywords: tuple[KeywordHit, ...], flags: frozenset[Flag] = frozenset(),
                 runner_up: Category | None = None, uncertain: bool = False, source: str = LEXICON,
                 labels: Labels | None = None) -> None:
        self.__dict__.update(category=category, kind=kind, severity=severity, confidence=confidence,
                             keywords=keywords, flags=flags, runner_up=runner_up, uncertain=uncertain,
                             source=source, labels=labels)

    def _terms(self, target: str, limit: int, source: str | None = None) -> tuple[str, ...]:
        seen: list[str] = []
        for hit in sorted(self.keywords, key=lambda h: -h.weight):
            if hit.target == target and hit.weight > 0 and hit.term not in seen and source in (None, hit.source):
                seen.append(hit.term)
        return tuple(seen[:limit])

    @property
    def decisive_terms(self) -> tuple[str, ...]:
        """The words that decided the category (lexicon terms or the model's words)."""
        return self.evidence()[0][1]

    def evidence(self, max_terms: int = 5) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Language-neutral evidence: ``(target, terms)`` pairs, strongest terms first.

        The category comes first (``"category:<category>"`` with the terms of the source that
        decided it, at most ``max_terms``; empty when nothing spoke for it), then a raised
        severity (``"severity:urgent"`` / ``"severity:important"``) and each flag
        (``"flag:<flag>"``), with at most ``min(3, max_terms)`` terms each.  Context and kind
        words are left out; the full list is in :attr:`keywords`.
        """
        target = f"category:{self.category.value}"
        source = MODEL if self.source == MODEL else LEXICON
        out = [(target, self._terms(target, max_terms, source))]
        small = min(3, max_terms)
        if self.severity in _SEVERITY_TARGETS:
            found = self._terms(_SEVERITY_TARGETS[self.severity], small)
            if found:
                out.append((_SEVERITY_TARGETS[self.severity], found))
        for flag in sorted(self.flags, key=_FLAG_ORDER.__getitem__):
            out.append((f"flag:{flag.value}", self._terms(f"flag:{flag.value}", small)))
        return tuple(out)

    def reason(self, max_terms: int = 5) -> str:
        """Short explanation for residents and staff, worded by the lexicon's ``[reason]`` table.

        Built from :meth:`evidence`: the category with its deciding terms, then the evidence of a
        raised severity and of each flag, then — for a close call — both candidate categories.
        """
        labels = self.labels or shipped_labels()
        text = labels.reason
        join = text["term_separator"].join
        evidence = self.evidence(max_terms)
        (_, category_terms), rest = evidence[0], evidence[1:]
        category = self.category.value
        if not self.keywords:
            parts = [text["no_keywords"].format(category=category)]
        elif category_terms:
            template = text["model"] if self.source == MODEL else text["category"]
            parts = [template.format(category=category, terms=join(category_terms))]
        elif self.category is Category.OTHER:
            parts = [text["other_without_terms"].format(category=category)]
        else:
            parts = [text["category_without_terms"].format(category=category)]
        for target, terms in rest:
            label = labels.label(target)
            parts.append(text["evidence"].format(label=label, terms=join(terms)) if terms else label)
        if self.uncertain and self.runner_up is not None:
            parts.append(text["uncertain"].format(category=category, runner_up=self.runner_up.value))
        return text["part_separator"].join(parts)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "kind": self.kind.value,
            "severity": self.severity.label,
            "confidence": round(self.confidence, 3),
            "keywords": [h.to_json_dict() for h in self.keywords],
            "flags": sorted(f.value for f in self.flags),
            "runner_up": self.runner_up.value if self.runner_up is not None else None,
            "uncertain": self.uncertain,
            "source": self.source,
            "evidence": [[target, list(terms)] for target, terms in self.evidence()],
        }
