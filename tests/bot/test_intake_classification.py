"""The intake classifies a description once: the summary's classification is kept in the
conversation data (JSON) and read back at submit."""

from __future__ import annotations

import json
from pathlib import Path

from handlers.intake import classification_of, keep_classification

MESSAGES = [line.strip() for line in
            (Path(__file__).parents[2] / "bench" / "chat_messages.txt").read_text("utf-8").splitlines() if line.strip()]


def test_kept_classification_reads_back_equal(classifier):
    for text in MESSAGES:
        classification = classifier.classify(text)
        kept = json.loads(json.dumps(keep_classification(classification, text)))  # as the state stores it
        restored = classification_of({"description": text, "classification": kept}, classifier)
        assert restored == classification, text
        assert restored.reason() == classification.reason()


def test_edited_description_is_classified_again(classifier):
    first, second = MESSAGES[0], MESSAGES[1]
    kept = keep_classification(classifier.classify(first), first)
    assert classification_of({"description": second, "classification": kept}, classifier) == classifier.classify(second)


def test_unreadable_kept_classification_is_ignored(classifier):
    text = MESSAGES[0]
    kept = {**keep_classification(classifier.classify(text), text), "category": "no such category"}
    assert classification_of({"description": text, "classification": kept}, classifier) == classifier.classify(text)
    assert classification_of({"description": text}, classifier) == classifier.classify(text)
