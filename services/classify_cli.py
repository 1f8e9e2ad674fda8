"""Plain helper functions behind the project's ``classify`` CLI commands.

No CLI framework here: the project's typer application calls these.

* :func:`classify_text` — one message → one JSON object (category, kind, severity, confidence,
  keywords).
* :func:`classify_file` — ``id<TAB>text`` lines → ``id<TAB>category<TAB>kind`` lines.
* :func:`evaluate_file` — labelled TSV (``id, category, kind, title, detail``) → accuracy,
  macro-F1, kind accuracy, per-category table and confusion matrix.
* :func:`cross_validate_file` — the same figures by k-fold cross-validation, the learned model
  refitted on the training folds: lexicon alone, model alone and combined, per fold.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from services.classify import Classifier, get_classifier, load_lexicon
from services.classify.metrics import metrics
from services.classify.model import text_hash
from services.classify.training import FULL_STOP, CrossValidation, Scores, cross_validate, read_examples
from services.text_norm import normalize
from services.domain import Category, Kind

__all__ = ["TsvFormatError", "classify_file", "classify_text", "cross_validate_file", "evaluate_file", "metrics"]


class TsvFormatError(ValueError):
    """An input TSV line is malformed; the message names the file and line number."""


def _clf(classifier: Classifier | None) -> Classifier:
    return classifier if classifier is not None else get_classifier()


def classify_text(text: str, classifier: Classifier | None = None) -> str:
    """Classify one message; return one JSON object (``ensure_ascii=False``) as a string.

    Keys: category, kind, severity (its label), confidence, keywords (list of
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


def evaluate_file(path: str | Path, out: TextIO, classifier: Classifier | None = None) -> dict[str, Any]:
    """Evaluate on a labelled TSV with columns ``id, category, kind, title, detail``.

    The text classified is the title, plus an ideographic full stop and the detail when there is
    one (as :func:`services.classify.training.read_examples` reads it).  Prints category
    accuracy, macro-F1 over
    the 8 categories, kind accuracy, a per-category precision/recall/F1/support table and a
    confusion matrix (rows true, columns predicted) to ``out``; returns the figures as a dict:
    ``n, category_accuracy, macro_f1, macro_f1_all, kind_accuracy, per_category, confusion,
    labels, errors, in_sample`` (the misclassified ids with gold and predicted category; how many
    messages the classifier's learned model was trained on — its figures are in-sample for those).
    """
    clf = _clf(classifier)
    trained_on = clf.model.trained_on() if clf.model is not None else frozenset()
    in_sample = 0
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
        text = title + (FULL_STOP + detail if detail.strip() else "")
        result = clf.classify(text)
        in_sample += bool(trained_on) and text_hash(normalize(text)) in trained_on
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
        "in_sample": in_sample,
    }
    out.write(f"n = {cm['n']}  ({_source(clf)})\n")
    if in_sample:
        out.write(f"note: the model was trained on {in_sample} of these messages: these figures are in-sample "
                  f"(use --folds for cross-validated ones)\n")
    out.write(f"category accuracy: {cm['accuracy']:.3f}\n")
    out.write(
        f"macro-F1: {cm['macro_f1']:.3f} "
        f"(counting categories absent from both gold and predictions as 0: {cm['macro_f1_all']:.3f})\n"
    )
    out.write(f"kind accuracy: {km['accuracy']:.3f}\n\n")
    rows = [
        [label, f"{v['precision']:.2f}", f"{v['recall']:.2f}", f"{v['f1']:.2f}", str(v["support"])]
        for label, v in cm["per_label"].items()
    ]
    out.write(_table(["category", "precision", "recall", "F1", "support"], rows) + "\n\n")
    out.write("confusion matrix (rows true, columns predicted)\n")
    rows = [[label, *map(str, cm["confusion"][i])] for i, label in enumerate(cats)]
    out.write(_table(["true\\predicted", *cats], rows) + "\n")
    return report


def _source(clf: Classifier) -> str:
    model = clf.model
    if model is None:
        return "lexicon alone"
    where = model.path.name if model.path else "in memory"
    return f"lexicon + model revision {model.revision} ({where})"


def _figures(scores: Scores) -> str:
    kind = f"{scores.kind_accuracy:.3f}" if scores.kind_accuracy is not None else "  -  "
    return f"{scores.accuracy:.3f} {scores.macro_f1:.3f} {kind}"


def cross_validate_file(path: str | Path, out: TextIO, *, folds: int = 5, extra: Sequence[str | Path] = (),
                        classifier: Classifier | None = None, seed: int = 17) -> CrossValidation:
    """k-fold cross-validation on a labelled TSV (see :func:`services.classify.training.cross_validate`).

    ``extra`` labelled files are added to every training fold and never scored.  Prints, per fold
    and as mean and pooled figures, category accuracy / macro-F1 / kind accuracy of the lexicon
    alone, the model alone and both combined, and how many combined decisions were close calls.
    """
    clf = classifier or Classifier(load_lexicon(overlay=False))
    examples = read_examples(path)
    extra_examples = [ex for p in extra for ex in read_examples(p)]
    cv = cross_validate(clf, examples, folds=folds, seed=seed, extra=extra_examples)
    out.write(f"{folds}-fold cross-validation on {Path(path).name} (n={len(examples)}, stratified by category, "
              f"seed {seed}); the model and the lexicon reliability factors are fitted on the training folds"
              + (f" + {cv.extra} message(s) of {', '.join(Path(p).name for p in extra)}" if extra else "")
              + "; the lexicon itself is fixed\n")
    out.write("figures: category accuracy, macro-F1, kind accuracy\n\n")
    header = ["fold", "n", "lexicon alone", "model alone", "combined", "close calls (wrong)"]
    rows = [[str(f.fold), str(f.combined.n), _figures(f.lexicon), _figures(f.model), _figures(f.combined),
             f"{f.uncertain} ({f.uncertain_wrong} of {f.wrong} errors)"] for f in cv.folds]
    rows.append(["mean", str(sum(f.combined.n for f in cv.folds)), _figures(cv.mean("lexicon")),
                 _figures(cv.mean("model")), _figures(cv.mean("combined")),
                 f"{sum(f.uncertain for f in cv.folds)} ({sum(f.uncertain_wrong for f in cv.folds)} of "
                 f"{sum(f.wrong for f in cv.folds)})"])
    rows.append(["pooled", str(cv.pooled["combined"].n), _figures(cv.pooled["lexicon"]), _figures(cv.pooled["model"]),
                 _figures(cv.pooled["combined"]), ""])
    out.write(_table(header, rows) + "\n")
    return cv
