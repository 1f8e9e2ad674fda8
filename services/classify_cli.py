"""Plain helper functions behind the project's ``classify`` CLI commands.

No CLI framework here: the project's typer application calls these.

* :func:`classify_text` — one message → one JSON object (category, kind, severity, confidence,
  keywords).
* :func:`classify_file` — ``id<TAB>text`` lines → ``id<TAB>category<TAB>kind`` lines.
* :func:`evaluate_file` — labelled TSV (``id, category, kind, title, detail``) → accuracy,
  macro-F1, kind accuracy, per-category table and confusion matrix.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from services.classify import Classifier, get_classifier
from services.domain import Category, Kind

__all__ = ["TsvFormatError", "classify_file", "classify_text", "evaluate_file", "metrics"]


class TsvFormatError(ValueError):
    """An input TSV line is malformed; the message names the file and line number."""


def _clf(classifier: Classifier | None) -> Classifier:
    return classifier if classifier is not None else get_classifier()


def classify_text(text: str, classifier: Classifier | None = None) -> str:
    """Classify one message; return one JSON object (``ensure_ascii=False``) as a string.

    Keys: category, kind, severity (e.g. "Ⅰ 紧急"), confidence, keywords (list of
    {"term", "weight", "target"}), plus flags.
    """
    return json.dumps(_clf(classifier).classify(text).to_json_dict(), ensure_ascii=False)


def _data_lines(path: str | Path):
    """Yield (line number, line) for non-blank lines, skipping a header line starting with "id"."""
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if number == 1 and line.lower().startswith("id"):
                first = line.split("\t", 1)[0].strip().lower()
                if first == "id":
                    continue
            yield number, line


def classify_file(path: str | Path, out: TextIO, classifier: Classifier | None = None) -> int:
    """Classify ``id<TAB>text`` lines of a UTF-8 file; write ``id<TAB>category<TAB>kind`` lines.

    A header line whose first column is ``id`` and blank lines are skipped.  A line without a tab
    raises :class:`TsvFormatError` naming the line number.  Returns the number of lines written.
    """
    clf = _clf(classifier)
    count = 0
    for number, line in _data_lines(path):
        if "\t" not in line:
            raise TsvFormatError(f"{path}, line {number}: expected 'id<TAB>text', found no tab")
        ident, text = line.split("\t", 1)
        result = clf.classify(text)
        out.write(f"{ident.strip()}\t{result.category.value}\t{result.kind.value}\n")
        count += 1
    return count


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cols = len(header)
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(cols)]
    lines = []
    for r_index, row in enumerate([header, *rows]):
        cells = [_pad(str(row[0]), widths[0])] + [_pad(str(row[i]), widths[i], right=True) for i in range(1, cols)]
        lines.append("  ".join(cells).rstrip())
        if r_index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def metrics(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-label precision/recall/F1/support, macro-F1 and confusion matrix.

    ``macro_f1`` averages F1 over the labels that occur in the gold or the predicted labels
    (labels never seen on either side carry no information; this is scikit-learn's default);
    ``macro_f1_all`` averages over every label in ``labels`` counting absent ones as 0.
    """
    n = len(gold)
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted):
        confusion[index[g]][index[p]] += 1
    per_label: dict[str, dict[str, float]] = {}
    present_f1, all_f1 = [], []
    for label, i in index.items():
        tp = confusion[i][i]
        support = sum(confusion[i])
        pred = sum(row[i] for row in confusion)
        precision = tp / pred if pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        all_f1.append(f1)
        if support or pred:
            present_f1.append(f1)
    correct = sum(1 for g, p in zip(gold, predicted) if g == p)
    return {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(present_f1) / len(present_f1) if present_f1 else 0.0,
        "macro_f1_all": sum(all_f1) / len(all_f1) if all_f1 else 0.0,
        "per_label": per_label,
        "confusion": confusion,
        "labels": list(labels),
    }


def evaluate_file(path: str | Path, out: TextIO, classifier: Classifier | None = None) -> dict[str, Any]:
    """Evaluate on a labelled TSV with columns ``id, category, kind, title, detail``.

    The text classified is ``title + "。" + detail``.  Prints category accuracy, macro-F1 over
    the 8 categories, kind accuracy, a per-category precision/recall/F1/support table and a
    confusion matrix (rows true, columns predicted) to ``out``; returns the figures as a dict:
    ``n, category_accuracy, macro_f1, macro_f1_all, kind_accuracy, per_category, confusion,
    labels, errors`` (the misclassified ids with gold and predicted category).
    """
    clf = _clf(classifier)
    cats = [c.value for c in Category]
    kinds = [k.value for k in Kind]
    gold_c, pred_c, gold_k, pred_k, errors = [], [], [], [], []
    for number, line in _data_lines(path):
        cols = line.split("\t")
        if len(cols) < 4:
            raise TsvFormatError(f"{path}, line {number}: expected 'id, category, kind, title, detail' columns")
        ident, category, kind, title = (c.strip() for c in cols[:4])
        detail = cols[4] if len(cols) > 4 else ""
        if category not in cats:
            raise TsvFormatError(f"{path}, line {number}: unknown category {category!r}")
        if kind not in kinds:
            raise TsvFormatError(f"{path}, line {number}: unknown kind {kind!r}")
        result = clf.classify(title + "。" + detail)
        gold_c.append(category)
        pred_c.append(result.category.value)
        gold_k.append(kind)
        pred_k.append(result.kind.value)
        if category != result.category.value:
            errors.append({"id": ident, "gold": category, "predicted": result.category.value})
    cm = metrics(gold_c, pred_c, cats)
    km = metrics(gold_k, pred_k, kinds)
    report = {
        "n": cm["n"],
        "category_accuracy": cm["accuracy"],
        "macro_f1": cm["macro_f1"],
        "macro_f1_all": cm["macro_f1_all"],
        "kind_accuracy": km["accuracy"],
        "per_category": cm["per_label"],
        "confusion": cm["confusion"],
        "kind_confusion": km["confusion"],
        "labels": cats,
        "errors": errors,
    }
    out.write(f"样本数 n = {cm['n']}\n")
    out.write(f"分类准确率 category accuracy: {cm['accuracy']:.3f}\n")
    out.write(
        f"宏平均F1 macro-F1: {cm['macro_f1']:.3f} "
        f"(counting categories absent from both gold and predictions as 0: {cm['macro_f1_all']:.3f})\n"
    )
    out.write(f"类型准确率 kind accuracy: {km['accuracy']:.3f}\n\n")
    rows = [
        [label, f"{v['precision']:.2f}", f"{v['recall']:.2f}", f"{v['f1']:.2f}", str(v["support"])]
        for label, v in cm["per_label"].items()
    ]
    out.write(_table(["分类", "precision", "recall", "F1", "support"], rows) + "\n\n")
    out.write("混淆矩阵 confusion matrix (行=真实 rows true, 列=预测 columns predicted)\n")
    rows = [[label, *map(str, cm["confusion"][i])] for i, label in enumerate(cats)]
    out.write(_table(["真实\\预测", *cats], rows) + "\n")
    return report
