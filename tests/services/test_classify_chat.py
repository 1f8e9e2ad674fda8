"""Short resident chat messages (the bot's real input): accuracy on hand-written sets.

``data/chat_messages.tsv`` (159 messages, all 8 categories and 3 kinds, phone style: no
punctuation, emoji, "！！", some Traditional) was written before running the classifier on it and
then used to find missing *general* vocabulary, so its score is optimistic; the test holds it.
``data/chat_messages_holdout.tsv`` (64 messages) was the first hold-out; it has since been used for
tuning too (second round of chat vocabulary), so it is now held like the first file.
``data/chat_messages_holdout2.tsv`` (137 messages, ~25% 其他) was written from the SPEC categories
and the data README conventions before the second round and has never been looked at for errors:
it is the honest estimate.  Its test is only a floor against regressions — do not add vocabulary by
looking at its errors (write a new hold-out set instead).
``data/chat_messages_holdout3.tsv`` (140 messages, ~20% 其他, some complaints phrased as questions)
was written before the learned model and the kind rules of issue 17, and evaluated once at the end
(lexicon alone and lexicon + model); it too only has floors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classify import DEFAULT_LEXICON_PATH, Classifier
from services.classify.model import SHIPPED_MODEL_PATH
from services.domain import Category, Kind

DATA = Path(__file__).resolve().parent / "data"


def _rows(name: str) -> list[tuple[str, str, str, str]]:
    rows = []
    with (DATA / name).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh):
            cols = line.rstrip("\r\n").split("\t")
            if number == 0:
                assert cols[:5] == ["id", "category", "kind", "title", "detail"]
                continue
            ident, category, kind, title = cols[:4]
            detail = cols[4] if len(cols) > 4 else ""
            rows.append((ident, category, kind, title + ("。" + detail if detail else "")))
    return rows


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load(DEFAULT_LEXICON_PATH)


def _accuracy(clf: Classifier, rows) -> tuple[float, float, list[str]]:
    cat = kind = 0
    errors = []
    for ident, category, k, text in rows:
        result = clf.classify(text)
        cat += result.category.value == category
        kind += result.kind.value == k
        if result.category.value != category:
            errors.append(f"{ident} {text}: {category} → {result.category.value} ({result.reason()})")
    return cat / len(rows), kind / len(rows), errors


@pytest.mark.parametrize("name", ["chat_messages.tsv", "chat_messages_holdout.tsv", "chat_messages_holdout2.tsv",
                                  "chat_messages_holdout3.tsv"])
def test_file_shape(name):
    rows = _rows(name)
    assert len({r[0] for r in rows}) == len(rows)
    assert {r[1] for r in rows} == {c.value for c in Category}
    assert {r[2] for r in rows} == {k.value for k in Kind}
    assert all(5 <= len(r[3]) <= 40 for r in rows)


def test_chat_messages(clf):
    rows = _rows("chat_messages.tsv")
    assert len(rows) >= 120
    category_acc, kind_acc, errors = _accuracy(clf, rows)
    assert category_acc >= 0.85, "\n".join(errors)
    assert kind_acc >= 0.9


def test_chat_holdout_tuned(clf):
    # the first hold-out, used for tuning in the second round (0.688 → 0.891 / kind 0.922 → 0.969)
    category_acc, kind_acc, errors = _accuracy(clf, _rows("chat_messages_holdout.tsv"))
    assert category_acc >= 0.85, "\n".join(errors)
    assert kind_acc >= 0.9


def test_chat_holdout2_floor(clf):
    # never tuned on: a floor a little under the measured figures (category 0.810, kind 0.927);
    # the error list is deliberately not printed
    rows = _rows("chat_messages_holdout2.tsv")
    assert len(rows) >= 120
    category_acc, kind_acc, _errors = _accuracy(clf, rows)
    assert category_acc >= 0.78
    assert kind_acc >= 0.9


@pytest.mark.parametrize("with_model", [False, True], ids=["lexicon", "lexicon+model"])
def test_chat_holdout3_floor(with_model):
    # never tuned on; measured once: lexicon alone 0.886 / kind 0.914, lexicon + model 0.893 / 0.914
    clf = Classifier.load(DEFAULT_LEXICON_PATH, model=SHIPPED_MODEL_PATH if with_model else None)
    rows = _rows("chat_messages_holdout3.tsv")
    assert len(rows) >= 120
    category_acc, kind_acc, _errors = _accuracy(clf, rows)
    assert category_acc >= 0.86
    assert kind_acc >= 0.9
