"""Same-matter detection helpers: areas and keyword overlap."""

import pytest

from services.classify import content_words, get_classifier
from services.matters import area_of, similarity


class TestArea:
    @pytest.mark.parametrize("location,area", [
        ("3栋2单元501", "3栋"), ("3号楼东侧", "3栋"), (" 12幢 ", "12栋"), ("东门岗亭", "东门岗亭"), ("地下车库B区", "地下车库"),
    ])
    def test_area(self, location, area):
        assert area_of(location) == area


class TestSimilarity:
    def test_same_matter_in_different_words(self):
        classifier = get_classifier()
        first, second, third = (content_words(classifier, t) for t in (
            "3栋的电梯又坏了，一直没人修", "3栋电梯坏了好几天了没人修", "3栋的电梯坏了没人来修"))
        assert similarity(first, third) >= 0.3 and similarity(first, second) >= 0.3

    def test_different_matters(self):
        classifier = get_classifier()
        lift, lamp = (content_words(classifier, t) for t in ("电梯坏了没人修", "楼道的路灯不亮了"))
        assert similarity(lift, lamp) < 0.3
        assert similarity(set(), lamp) == 0.0


class TestContentWords:
    def test_cut_once_per_text(self, monkeypatch):
        """Each filing compares itself with the month's recent complaints: a text already seen is
        not cut again, and gives the same words as the first time."""
        from services.classify.classifier import Classifier, _content_words

        classifier = Classifier.load()
        cuts = []
        tokenize = classifier.tokenize
        monkeypatch.setattr(classifier, "tokenize", lambda text: cuts.append(text) or tokenize(text))
        text = "3栋的电梯又坏了，一直没人修"
        first = content_words(classifier, text)
        again = content_words(classifier, text)
        assert first == again == _content_words(classifier, text) and "电梯" in first
        assert cuts == [text, text]  # the first call and the uncached one above; the repeat cut nothing
        content_words(classifier, "楼道的路灯不亮了")
        assert len(cuts) == 3
