"""What the classifier returns: :class:`KeywordHit` and :class:`Classification`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.domain import Category, Flag, Kind, Severity


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
