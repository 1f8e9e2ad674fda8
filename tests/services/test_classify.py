"""Tests for services.classify: decisions, normalisation, negation, lexicon validation, overlays."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from services.classify import (
    DEFAULT_LEXICON_PATH,
    Classification,
    Classifier,
    KeywordHit,
    LexiconError,
    get_classifier,
    learn_weights,
    load_lexicon,
    write_overlay,
)
from services.classify_cli import evaluate_file
from services.domain import Category, Flag, Kind, Severity

DATA = Path(__file__).parent / "data"
OWN_SENTENCES = DATA / "own_sentences.tsv"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load(DEFAULT_LEXICON_PATH)


def category_of(clf: Classifier, text: str) -> Category:
    return clf.classify(text).category


class TestCategory:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("小区消防通道被私家车堵死了，保安也不管", Category.SECURITY),
            ("楼上有人高空抛物，差点砸到小孩", Category.SECURITY),
            ("5栋电梯坏了三天还没修", Category.ENGINEERING),
            ("楼道灯不亮，下水道也堵了", Category.ENGINEERING),
            ("楼下垃圾桶满了没人清运，臭气熏天", Category.ENVIRONMENT),
            ("小区老鼠蟑螂很多，请安排消杀", Category.ENVIRONMENT),
            ("物业费涨价没有开业主大会", Category.GENERAL),
            ("地下车库停车费乱收费", Category.GENERAL),
            ("前台客服态度恶劣，爱理不理", Category.STAFF),
            ("保安辱骂业主，态度很差", Category.STAFF),
            ("楼上邻居半夜跺脚，噪音太大", Category.NEIGHBOURS),
            ("邻居在露台违建阳光房", Category.NEIGHBOURS),
            ("交房三年开发商还不办房产证", Category.DEVELOPER),
            ("新房墙体开裂，开发商偷工减料", Category.DEVELOPER),
            ("希望开通一条到地铁站的公交线路", Category.OTHER),
            ("请问孩子入学的学区怎么划分", Category.OTHER),
            ("小区对面KTV营业到凌晨，噪音扰民", Category.OTHER),
        ],
    )
    def test_clear_examples(self, clf, text, expected):
        assert category_of(clf, text) is expected

    def test_no_evidence_is_other_with_low_confidence(self, clf):
        result = clf.classify("你好")
        assert result.category is Category.OTHER
        assert result.keywords == ()
        assert result.confidence <= 0.5
        assert "其他" in result.reason()

    def test_strong_other_beats_weak_property_evidence(self, clf):
        # mentions the compound, but the matter is a city road and the bus line
        text = "小区门口的市政道路坑洼不平，公交站也太远，请交通部门修路"
        assert category_of(clf, text) is Category.OTHER

    def test_empty_text(self, clf):
        result = clf.classify("")
        assert result.category is Category.OTHER and result.kind is Kind.COMPLAINT


class TestKind:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("请问物业费怎么缴纳？", Kind.INQUIRY),
            ("咨询一下维修基金的使用流程", Kind.INQUIRY),
            ("电梯是否按时年检了？", Kind.INQUIRY),
            ("建议物业在车棚增设充电桩", Kind.SUGGESTION),
            ("呼吁小区多种些花草树木", Kind.SUGGESTION),
            ("希望增设几个垃圾桶", Kind.SUGGESTION),
            ("投诉物业乱收停车费", Kind.COMPLAINT),
            ("电梯坏了好几天了", Kind.COMPLAINT),
            ("希望物业尽快解决漏水问题", Kind.COMPLAINT),
        ],
    )
    def test_kinds(self, clf, text, expected):
        assert clf.classify(text).kind is expected

    @pytest.mark.parametrize(
        "text",
        [
            "电梯坏了三天了，为什么还没人修？",
            "物业到底管不管？楼道堆满了垃圾",
            "凭什么停车费一年涨两次？",
            "楼上天天半夜剁肉，还让不让人睡觉了？",
            "路灯不亮好几天了，有没有人管？",
            "这是什么服务态度？打了三次电话都不接",
            "水管又漏了，报修好几次了，怎么还没人来？",
        ],
    )
    def test_a_complaint_with_a_question_is_a_complaint(self, clf, text):
        assert clf.classify(text).kind is Kind.COMPLAINT

    @pytest.mark.parametrize(
        "text",
        ["停水了，什么时候恢复？", "门禁卡丢了怎么补办？", "装修需要办什么手续吗", "请问电梯年检是哪天？"],
    )
    def test_a_question_without_a_grievance_is_an_inquiry(self, clf, text):
        assert clf.classify(text).kind is Kind.INQUIRY


class TestSeverity:
    @pytest.mark.parametrize(
        "text",
        [
            "楼道里有很重的煤气味",
            "地下室着火了",
            "小孩在配电箱旁边触电了",
            "我们被困在电梯里半小时",
            "楼上水漫下来，家里被淹了",
            "保安推搡老人导致受伤",
        ],
    )
    def test_urgent(self, clf, text):
        assert clf.classify(text).severity is Severity.URGENT

    @pytest.mark.parametrize(
        "text",
        ["电梯多次故障，一直没修好", "物业承诺的维修至今未兑现", "小区停水一整天，无法正常生活"],
    )
    def test_important(self, clf, text):
        assert clf.classify(text).severity is Severity.IMPORTANT

    def test_general(self, clf):
        assert clf.classify("楼道有点脏，麻烦打扫一下").severity is Severity.GENERAL

    def test_suggestion_is_general(self, clf):
        assert clf.classify("建议物业增设充电桩").severity is Severity.GENERAL


class TestFlags:
    def test_lawsuit_media_group_make_it_urgent(self, clf):
        result = clf.classify("我们几十户业主联名投诉物业，再不解决就起诉并找媒体曝光")
        assert {Flag.LAWSUIT, Flag.MEDIA, Flag.GROUP} <= result.flags
        assert result.severity is Severity.URGENT

    def test_lawsuit_only(self, clf):
        result = clf.classify("开发商再不交房我们就去法院起诉")
        assert Flag.LAWSUIT in result.flags
        assert Flag.MEDIA not in result.flags

    def test_staff_report(self, clf):
        result = clf.classify("我是物业公司的保安，投诉我们主管克扣工资")
        assert Flag.STAFF_REPORT in result.flags

    def test_staff_report_needs_a_target(self, clf):
        # a staff member saying who they are is not by itself a staff report
        assert Flag.STAFF_REPORT not in clf.classify("我是小区的保安，今天电梯坏了").flags

    def test_customer_report(self, clf):
        result = clf.classify("物业管家私收装修费用不开票，还索要好处费")
        assert Flag.CUSTOMER_REPORT in result.flags

    def test_no_flags_on_plain_complaint(self, clf):
        assert clf.classify("楼道灯坏了").flags == frozenset()


class TestNormalisation:
    def test_traditional_input(self, clf):
        result = clf.classify("樓上鄰居裝修噪音擾民，半夜還在施工")
        assert result.category is Category.NEIGHBOURS
        assert any(h.term == "噪音" for h in result.keywords)

    def test_traditional_urgent(self, clf):
        result = clf.classify("樓道有煤氣味，請馬上處理")
        assert result.severity is Severity.URGENT

    def test_full_width_input(self, clf):
        result = clf.classify("ＫＴＶ噪音扰民，打了１２３４５也没用？")
        assert result.category is Category.OTHER
        assert any(h.term == "ktv" for h in result.keywords)
        assert any(h.term == "12345" for h in result.keywords)


class TestNegation:
    def test_no_more_noise(self, clf):
        result = clf.classify("楼上已经没有噪音了")
        assert not any(h.term == "噪音" for h in result.keywords)

    def test_lift_repaired_is_not_a_fault(self, clf):
        result = clf.classify("电梯已经修好了，谢谢")
        assert result.severity is Severity.GENERAL
        assert not any(h.target == "severity:important" for h in result.keywords)
        assert not any(h.term in ("坏了", "故障") for h in result.keywords)

    def test_not_repaired_is_still_a_fault(self, clf):
        result = clf.classify("停水两天了，到现在还没修好")
        assert any(h.term == "停水" for h in result.keywords)

    def test_no_water_no_more(self, clf):
        result = clf.classify("今天没有停水")
        assert not any(h.term == "停水" for h in result.keywords)

    def test_negation_does_not_cancel_topics(self, clf):
        # "没有房产证" is the complaint itself: topics are never negated
        result = clf.classify("交房三年了还没有房产证")
        assert result.category is Category.DEVELOPER

    def test_negation_does_not_cross_clauses(self, clf):
        result = clf.classify("没有办法，楼上噪音太大")
        assert any(h.term == "噪音" for h in result.keywords)


class TestResultShape:
    def test_to_json_dict(self, clf):
        d = clf.classify("楼道有煤气味，电梯也坏了").to_json_dict()
        assert {"category", "kind", "severity", "confidence", "keywords"} <= set(d)
        assert d["severity"] == "Ⅰ 紧急"
        assert isinstance(d["category"], str) and d["category"] in {c.value for c in Category}
        assert d["kind"] in {k.value for k in Kind}
        assert 0.0 <= d["confidence"] <= 1.0
        assert all(set(k) == {"term", "weight", "target", "source"} for k in d["keywords"])
        assert {"runner_up", "uncertain", "source", "evidence"} <= set(d)
        assert d["evidence"][0][0] == f"category:{d['category']}"
        json.dumps(d, ensure_ascii=False)

    def test_the_result_is_a_frozen_dataclass_built_by_its_own_init(self, clf):
        """Classification fills its fields in its own __init__ (speed): the same fields, order and
        defaults as declared, still frozen, compared and copied by dataclasses."""
        import dataclasses
        import inspect

        fields = dataclasses.fields(Classification)
        params = list(inspect.signature(Classification.__init__).parameters.values())[1:]
        assert [p.name for p in params] == [f.name for f in fields]
        assert [p.default for p in params] == [inspect.Parameter.empty if f.default is dataclasses.MISSING
                                               else f.default for f in fields]
        result = clf.classify("电梯坏了")
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.category = Category.OTHER
        changed = dataclasses.replace(result, uncertain=not result.uncertain)
        assert changed != result and dataclasses.replace(changed, uncertain=result.uncertain) == result
        assert {f.name: getattr(result, f.name) for f in fields} == vars(result)

    def test_evidence_is_structured_category_first(self, clf):
        result = clf.classify("电梯又坏了，一直没人修，再不修我就起诉物业")
        evidence = result.evidence()
        targets = [target for target, _ in evidence]
        assert targets[0] == f"category:{result.category.value}"
        assert "电梯" in evidence[0][1]
        assert "flag:lawsuit" in targets
        assert all(isinstance(terms, tuple) for _, terms in evidence)
        assert len(result.evidence(max_terms=1)[0][1]) == 1

    def test_reason_is_worded_by_the_lexicon(self, tmp_path):
        path = _write(tmp_path, """
            [category."工程管理".terms]
            "电梯" = 5.0

            [reason]
            category = "category {category}: {terms}"
            part_separator = " | "
            """)
        result = Classifier(load_lexicon(path, overlay=False)).classify("电梯坏了")
        assert result.reason() == "category 工程管理: 电梯"

    def test_reason_template_fields_are_checked(self, tmp_path):
        path = _write(tmp_path, '[reason]\ncategory = "{category} {colour}"\n')
        with pytest.raises(LexiconError, match=r"line 2: reason template 'category'"):
            load_lexicon(path, overlay=False)
        path = _write(tmp_path, '[labels]\n"flag:weather" = "x"\n', name="b.toml")
        with pytest.raises(LexiconError, match=r"line 2: unknown label target"):
            load_lexicon(path, overlay=False)

    def test_reason_names_keywords(self, clf):
        reason = clf.classify("电梯坏了").reason()
        assert reason.startswith("分类「工程管理」：")
        assert "电梯" in reason and "坏了" in reason

    def test_dataclasses_are_frozen(self):
        hit = KeywordHit(term="电梯", weight=3.0, target="category:工程管理")
        c = Classification(
            category=Category.ENGINEERING,
            kind=Kind.COMPLAINT,
            severity=Severity.GENERAL,
            confidence=0.5,
            keywords=(hit,),
            flags=frozenset(),
        )
        with pytest.raises(AttributeError):
            c.category = Category.OTHER  # type: ignore[misc]
        assert c.reason() == "分类「工程管理」：电梯"

    def test_get_classifier_is_cached(self):
        assert get_classifier() is get_classifier()

    def test_private_tokenizer_does_not_leak(self, clf):
        import jieba

        clf.classify("二次供水的水泵坏了")
        assert "二次供水" not in jieba.dt.FREQ or jieba.dt.FREQ.get("二次供水", 0) == 0

    def test_tokenizers_do_not_see_each_others_words(self, clf):
        # tokenizers share jieba's (compact, read-only) dictionary; each adds its own words on top,
        # never seen by another classifier
        from services.classify.segment import _new_tokenizer

        first = _new_tokenizer(["水泵坏了吧"])
        assert first.FREQ["水泵坏了吧"] == 2000
        plain = _new_tokenizer([])
        assert "水泵坏了吧" not in plain.FREQ and "水泵坏了" not in plain.FREQ
        assert "二次供水" in clf._tokenizer.FREQ and plain.FREQ.get("二次供水", 0) < 2000
        assert plain.lcut("二次供水的水泵坏了", HMM=False) == ["二次", "供水", "的", "水泵", "坏", "了"]


def _write(tmp_path: Path, body: str, name: str = "lex.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


class TestLexiconValidation:
    def test_shipped_lexicon_loads(self):
        lex = load_lexicon(DEFAULT_LEXICON_PATH, overlay=False)
        assert lex.entries and lex.negation_before

    def test_unknown_category(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."工程管理".terms]
            "电梯" = 3.0

            [category."物业管理".terms]
            "保安" = 2.0
            """,
        )
        with pytest.raises(LexiconError) as err:
            load_lexicon(path, overlay=False)
        msg = str(err.value)
        assert str(path) in msg and "line 4" in msg and "物业管理" in msg

    def test_non_numeric_weight(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."工程管理".terms]
            "电梯" = 3.0
            "水管" = "heavy"
            """,
        )
        with pytest.raises(LexiconError, match=r"line 3: .*水管.*number"):
            load_lexicon(path, overlay=False)

    def test_missing_field(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."邻里纠纷".symptoms]
            "噪音" = {weight = 2.0}
            "吵闹" = {negatable = true}
            """,
        )
        with pytest.raises(LexiconError, match=r"line 3: .*吵闹.*missing field 'weight'"):
            load_lexicon(path, overlay=False)

    def test_duplicate_term_in_one_section(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."环境管理".terms]
            "垃圾" = 2.0
            "保洁" = 2.0
            "垃圾" = 3.0
            """,
        )
        with pytest.raises(LexiconError, match=r"line 4"):
            load_lexicon(path, overlay=False)

    def test_duplicate_term_across_leaves_of_one_category(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."环境管理".terms]
            "垃圾" = 2.0

            [category."环境管理".symptoms]
            "臭味" = 2.0
            "垃圾" = 1.0
            """,
        )
        with pytest.raises(LexiconError, match=r"line 6: duplicate term '垃圾'"):
            load_lexicon(path, overlay=False)

    def test_traditional_duplicate_is_a_duplicate(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [category."工程管理".terms]
            "电梯" = 2.0
            "電梯" = 3.0
            """,
        )
        with pytest.raises(LexiconError, match=r"line 3: duplicate term"):
            load_lexicon(path, overlay=False)

    def test_bad_pattern(self, tmp_path):
        path = _write(
            tmp_path,
            """
            [flag.group.patterns]
            "(几十户" = 3.0
            """,
        )
        with pytest.raises(LexiconError, match=r"line 2: pattern"):
            load_lexicon(path, overlay=False)

    def test_unknown_setting_and_section(self, tmp_path):
        path = _write(tmp_path, "[settings]\nlead_boost = 2.0\nspeed = 3\n")
        with pytest.raises(LexiconError, match=r"line 3: unknown setting 'speed'"):
            load_lexicon(path, overlay=False)
        path = _write(tmp_path, "[categories]\n", name="b.toml")
        with pytest.raises(LexiconError, match=r"line 1: unknown section"):
            load_lexicon(path, overlay=False)

    def test_toml_syntax_error_names_line(self, tmp_path):
        path = _write(tmp_path, '[category."工程管理".terms]\n"电梯" = 3.0\n"水管" = \n')
        with pytest.raises(LexiconError, match=r"line 3: TOML syntax error"):
            load_lexicon(path, overlay=False)

    def test_missing_file(self, tmp_path):
        with pytest.raises(LexiconError, match="cannot read"):
            load_lexicon(tmp_path / "nope.toml", overlay=False)


class TestLexiconPath:
    BODY = """
        [category."工程管理".terms]
        "独角兽" = 5.0
        """

    def test_env_override(self, tmp_path, monkeypatch):
        path = _write(tmp_path, self.BODY)
        monkeypatch.setenv("LEXICON_PATH", str(path))
        monkeypatch.delenv("LEXICON_OVERLAY_PATH", raising=False)
        clf = Classifier.load()
        assert clf.lexicon.path == path
        assert clf.classify("独角兽跑进来了").category is Category.ENGINEERING
        # the shipped vocabulary is not there any more
        assert clf.classify("电梯坏了").category is Category.OTHER

    def test_explicit_path_wins_over_env(self, tmp_path, monkeypatch):
        monkeypatch.setenv("LEXICON_PATH", str(tmp_path / "missing.toml"))
        clf = Classifier.load(DEFAULT_LEXICON_PATH)
        assert clf.classify("电梯坏了").category is Category.ENGINEERING

    def test_bad_env_path_raises(self, tmp_path, monkeypatch):
        monkeypatch.setenv("LEXICON_PATH", str(tmp_path / "missing.toml"))
        with pytest.raises(LexiconError):
            Classifier.load()


class TestLearning:
    TEXTS = [
        "会所一直不开放，游泳池也不能用",
        "小区会所从交房到现在都没开过",
        "会所和游泳池说好的却一直关着",
    ]

    def test_learning_changes_a_decision(self, tmp_path, clf):
        text = self.TEXTS[0]
        before = clf.classify(text).category
        assert before is Category.GENERAL
        corrections = [(t, before.value, Category.DEVELOPER.value) for t in self.TEXTS]
        adjustments = learn_weights(corrections, clf.lexicon)
        assert adjustments["category"]["地产相关"]  # something was raised for the right class
        lowered = adjustments["category"]["综合管理"]["terms"]["会所"]
        assert lowered < 3.0

        overlay = write_overlay(adjustments, tmp_path / "overlay.toml")
        learned = Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=overlay))
        assert learned.lexicon.overlay_path == overlay
        assert learned.classify(text).category is Category.DEVELOPER
        # unrelated decisions are unchanged
        assert learned.classify("5栋电梯坏了三天还没修").category is Category.ENGINEERING

    def test_overlay_env(self, tmp_path, monkeypatch):
        overlay = _write(
            tmp_path,
            """
            [category."服务人员".terms]
            "电梯" = 20.0
            """,
            name="overlay.toml",
        )
        monkeypatch.setenv("LEXICON_OVERLAY_PATH", str(overlay))
        monkeypatch.delenv("LEXICON_PATH", raising=False)
        assert Classifier.load().classify("电梯坏了").category is Category.STAFF

    def test_overlay_is_validated(self, tmp_path):
        overlay = _write(tmp_path, '[category."工程管理".terms]\n"电梯" = "x"\n', name="o.toml")
        with pytest.raises(LexiconError, match=r"o.toml, line 2"):
            load_lexicon(DEFAULT_LEXICON_PATH, overlay=overlay)

    def test_write_overlay_merges(self, tmp_path):
        path = tmp_path / "o.toml"
        write_overlay({"category": {"工程管理": {"terms": {"电梯": 4.0}}}}, path)
        write_overlay({"category": {"地产相关": {"terms": {"会所": 1.0}}}}, path)
        lex = load_lexicon(DEFAULT_LEXICON_PATH, overlay=path)
        weights = lex.weights()
        assert weights[("category:工程管理", "terms", "电梯")] == 4.0
        assert weights[("category:地产相关", "terms", "会所")] == 1.0

    def test_correct_predictions_change_nothing(self, clf):
        assert learn_weights([("电梯坏了", "工程管理", "工程管理")], clf.lexicon) == {}

    def test_unknown_category_in_corrections(self, clf):
        with pytest.raises(ValueError):
            learn_weights([("电梯坏了", "工程管理", "物业")], clf.lexicon)


class TestOwnSentences:
    def test_accuracy_on_own_sentences(self, clf):
        report = evaluate_file(OWN_SENTENCES, io.StringIO(), clf)
        assert report["n"] >= 120
        assert min(v["support"] for v in report["per_category"].values()) >= 14
        assert report["category_accuracy"] >= 0.9
        assert report["kind_accuracy"] >= 0.9


DEV_FILE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "complaints-dev.tsv"


class TestDevTargets:
    @pytest.mark.skipif(not DEV_FILE.exists(), reason=f"labelled dev set not found at {DEV_FILE}")
    def test_dev_targets(self, clf):
        report = evaluate_file(DEV_FILE, io.StringIO(), clf)
        assert report["category_accuracy"] >= 0.85
        assert report["macro_f1"] >= 0.70
        assert report["kind_accuracy"] >= 0.93
