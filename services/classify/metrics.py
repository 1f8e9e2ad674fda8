"""Classification figures: accuracy, per-label precision/recall/F1, macro-F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
