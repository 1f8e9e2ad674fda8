"""Tests for services.classify_cli: output formats of classify_text / classify_file / evaluate_file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from services.classify import DEFAULT_LEXICON_PATH, Classifier
from services.classify_cli import TsvFormatError, classify_file, classify_text, evaluate_file, metrics
from services.domain import Category

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load(DEFAULT_LEXICON_PATH)


class TestClassifyText:
    def test_one_json_object(self, clf):
        out = classify_text("楼道里有煤气味，电梯也坏了", clf)
        assert "\n" not in out
        assert "煤气味" in out  # ensure_ascii=False
        data = json.loads(out)
        assert list(data)[:5] == ["category", "kind", "severity", "confidence", "keywords"]
        assert data["severity"] == "Ⅰ 紧急"
        assert data["kind"] == "投诉"
        assert data["keywords"][0].keys() == {"term", "weight", "target", "source"}

    def test_default_classifier(self):
        data = json.loads(classify_text("请问物业费怎么交？"))
        assert data["category"] == "综合管理" and data["kind"] == "咨询"


class TestClassifyFile:
    def test_format(self, tmp_path, clf):
        path = tmp_path / "in.tsv"
        path.write_text(
            "id\ttext\n"
            "1\t电梯坏了三天\n"
            "\n"
            "2\t请问物业费怎么交？\n"
            "3\t建议开通到地铁站的公交线路\twith\textra tabs\n",
            encoding="utf-8",
        )
        out = io.StringIO()
        assert classify_file(path, out, clf) == 3
        assert out.getvalue() == "1\t工程管理\t投诉\n2\t综合管理\t咨询\n3\t其他\t建议\n"

    def test_without_header(self, tmp_path, clf):
        path = tmp_path / "in.tsv"
        path.write_text("a7\t楼上噪音太大\n", encoding="utf-8")
        out = io.StringIO()
        classify_file(path, out, clf)
        assert out.getvalue() == "a7\t邻里纠纷\t投诉\n"

    def test_line_without_tab(self, tmp_path, clf):
        path = tmp_path / "in.tsv"
        path.write_text("id\ttext\n1\t电梯坏了\n\n2 no tab here\n", encoding="utf-8")
        with pytest.raises(TsvFormatError, match=r"line 4"):
            classify_file(path, io.StringIO(), clf)


class TestEvaluateFile:
    def test_report_and_output(self, tmp_path, clf):
        path = tmp_path / "dev.tsv"
        path.write_text(
            "id\tcategory\tkind\ttitle\tdetail\n"
            "1\t工程管理\t投诉\t电梯坏了\t三天没修\n"
            "2\t其他\t咨询\t社保咨询\t请问社保在哪里办理？\n"
            "3\t服务人员\t投诉\t物业费太贵\t前台态度还很差\n",
            encoding="utf-8",
        )
        out = io.StringIO()
        report = evaluate_file(path, out, clf)
        assert report["n"] == 3
        assert 0.0 <= report["category_accuracy"] <= 1.0
        assert report["kind_accuracy"] == 1.0
        assert set(report["per_category"]) == {c.value for c in Category}
        assert len(report["confusion"]) == 8 and all(len(r) == 8 for r in report["confusion"])
        text = out.getvalue()
        assert "category accuracy" in text and "macro-F1" in text and "kind accuracy" in text
        assert "confusion matrix" in text
        # the confusion-matrix rows are aligned: every row has the same display width
        import unicodedata

        def width(s: str) -> int:
            return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

        matrix = text.split("confusion matrix")[1].strip().splitlines()[1:]
        header_cols = matrix[0].split()
        assert header_cols[1:] == [c.value for c in Category]
        assert len({width(line) for line in matrix[2:]}) == 1

    def test_bad_category(self, tmp_path, clf):
        path = tmp_path / "dev.tsv"
        path.write_text("id\tcategory\tkind\ttitle\tdetail\n1\t物业\t投诉\tx\ty\n", encoding="utf-8")
        with pytest.raises(TsvFormatError, match=r"line 2"):
            evaluate_file(path, io.StringIO(), clf)

    def test_own_sentences(self, clf):
        report = evaluate_file(DATA / "own_sentences.tsv", io.StringIO(), clf)
        assert report["n"] >= 120


class TestMetrics:
    def test_macro_f1_conventions(self):
        m = metrics(["a", "a", "b"], ["a", "b", "b"], ["a", "b", "c"])
        assert m["accuracy"] == pytest.approx(2 / 3)
        assert m["per_label"]["a"]["precision"] == 1.0
        assert m["per_label"]["a"]["recall"] == 0.5
        assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)  # "c" absent on both sides
        assert m["macro_f1_all"] == pytest.approx((2 / 3 + 2 / 3) / 3)
        assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
