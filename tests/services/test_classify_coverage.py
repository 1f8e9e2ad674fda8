"""Coverage tests for services.classify: every category, kind, severity and flag is recognised in
realistic resident sentences, both in Simplified and in Traditional Chinese; plus reason() shape,
the kind/lead rules for chat messages, and that the fast paths (segmentation, t2s) give the same
result as the libraries they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classify import DEFAULT_LEXICON_PATH, Classifier, LexiconError, load_lexicon
from services.domain import Category, Flag, Kind, Severity

CATEGORY_CASES = [
    ("SECURITY", "晚上没有保安巡逻，地下车库昨晚又有两辆电动车被盗", "晚上沒有保安巡邏，地下車庫昨晚又有兩輛電動車被盜"),
    ("ENGINEERING", "2栋的水管爆了，物业到现在还没派人来修", "2棟的水管爆了，物業到現在還沒派人來修"),
    ("ENVIRONMENT", "垃圾桶两天没人清理，楼下臭得不行，苍蝇到处飞", "垃圾桶兩天沒人清理，樓下臭得不行，蒼蠅到處飛"),
    ("GENERAL", "物业费每年都涨，也从来不公示收支账目", "物業費每年都漲，也從來不公示收支賬目"),
    ("STAFF", "物业客服接电话态度恶劣，说话很冲还直接挂我电话", "物業客服接電話態度惡劣，說話很衝還直接掛我電話"),
    ("NEIGHBOURS", "楼上邻居天天半夜拖椅子，噪音吵得睡不着", "樓上鄰居天天半夜拖椅子，噪音吵得睡不着"),
    ("DEVELOPER", "交房才一年，卫生间就开始渗水，墙面大面积开裂，开发商一直推脱", "交房才一年，衛生間就開始滲水，牆面大面積開裂，開發商一直推脫"),
    ("OTHER", "孩子上小学的学区划分不合理，希望教育局调整一下", "孩子上小學的學區劃分不合理，希望教育局調整一下"),
]

KIND_CASES = [
    ("COMPLAINT", "投诉保安上班时间在岗亭睡觉，叫都叫不醒", "投訴保安上班時間在崗亭睡覺，叫都叫不醒"),
    ("INQUIRY", "请问装修押金什么时候可以退？", "請問裝修押金什麼時候可以退？"),
    ("SUGGESTION", "建议在小区里增设几个快递柜，方便大家取件", "建議在小區裏增設幾個快遞櫃，方便大家取件"),
]

SEVERITY_CASES = [
    ("URGENT", "地下室配电房冒烟了，还有烧焦的味道，赶紧派人来", "地下室配電房冒煙了，還有燒焦的味道，趕緊派人來"),
    ("IMPORTANT", "3栋1单元的电梯又坏了，停在8楼不动，已经两天没人修，老人上下楼很不方便。", "3棟1單元的電梯又壞了，停在8樓不動，已經兩天沒人修，老人上下樓很不方便。"),
    ("IMPORTANT", "卫生间水管漏水，多次报修都没人来处理", "衛生間水管漏水，多次報修都沒人來處理"),
    ("GENERAL", "楼道的墙皮有点脱落，麻烦有空处理一下", "樓道的牆皮有點脫落，麻煩有空處理一下"),
]

FLAG_CASES = [
    ("LAWSUIT", "物业再不退还多收的停车费，我们就去法院起诉", "物業再不退還多收的停車費，我們就去法院起訴"),
    ("MEDIA", "垃圾堆了一个星期没人管，再不处理我们就找媒体曝光", "垃圾堆了一個星期沒人管，再不處理我們就找媒體曝光"),
    ("GROUP", "我们三十多户业主联名反映小区电梯经常停运的问题", "我們三十多戶業主聯名反映小區電梯經常停運的問題"),
    ("STAFF_REPORT", "我是物业公司的保安，投诉我们队长长期克扣加班费", "我是物業公司的保安，投訴我們隊長長期剋扣加班費"),
    ("CUSTOMER_REPORT", "物业管家私收装修押金，还不开收据", "物業管家私收裝修押金，還不開收據"),
]


def _both(cases):
    """(enum key, text) pairs for the Simplified and the Traditional form of every case."""
    out = []
    for key, simplified, traditional in cases:
        out.append(pytest.param(key, simplified, id=f"{key}-simplified"))
        out.append(pytest.param(key, traditional, id=f"{key}-traditional"))
    return out


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load(DEFAULT_LEXICON_PATH)


def test_cases_cover_every_value():
    assert {k for k, _, _ in CATEGORY_CASES} == {c.name for c in Category}
    assert {k for k, _, _ in KIND_CASES} == {k.name for k in Kind}
    assert {k for k, _, _ in SEVERITY_CASES} == {s.name for s in Severity}
    assert {k for k, _, _ in FLAG_CASES} == {f.name for f in Flag}


@pytest.mark.parametrize(("key", "text"), _both(CATEGORY_CASES))
def test_category(clf, key, text):
    result = clf.classify(text)
    assert result.category is Category[key], result.reason()


@pytest.mark.parametrize(("key", "text"), _both(KIND_CASES))
def test_kind(clf, key, text):
    assert clf.classify(text).kind is Kind[key]


@pytest.mark.parametrize(("key", "text"), _both(SEVERITY_CASES))
def test_severity(clf, key, text):
    result = clf.classify(text)
    assert result.severity is Severity[key], result.reason()


@pytest.mark.parametrize(("key", "text"), _both(FLAG_CASES))
def test_flag(clf, key, text):
    result = clf.classify(text)
    assert Flag[key] in result.flags, result.reason()
    # the other flags stay off in these single-issue sentences
    assert result.flags == {Flag[key]}


@pytest.mark.parametrize(("key", "text"), _both(CATEGORY_CASES + KIND_CASES + SEVERITY_CASES + FLAG_CASES))
def test_traditional_and_simplified_agree(clf, key, text):
    from services.text_norm import normalize

    a = clf.classify(text)
    b = clf.classify(normalize(text))
    assert (a.category, a.kind, a.severity, a.flags) == (b.category, b.kind, b.severity, b.flags)


class TestSeverityLevels:
    @pytest.mark.parametrize(
        "text",
        [
            "电梯又坏了",
            "停水三天了还没恢复",
            "路灯坏了一个月了，到底什么时候修好？",
            "报修好几次了，一直拖着不修",
            "物业说好上周修好，到现在也没人来",
        ],
    )
    def test_repeated_or_unresolved_is_important(self, clf, text):
        assert clf.classify(text).severity is Severity.IMPORTANT, clf.classify(text).reason()

    @pytest.mark.parametrize(
        "text",
        ["楼道灯坏了", "电梯按钮有点不灵", "草坪有点黄了，麻烦浇浇水", "单元门的门禁卡不太好刷"],
    )
    def test_minor_flaws_stay_general(self, clf, text):
        assert clf.classify(text).severity is Severity.GENERAL, clf.classify(text).reason()

    def test_a_lone_weak_word_in_the_first_sentence_is_not_enough(self, clf):
        # severity hits are not boosted in the first sentence: "经常" (weak) alone stays 一般
        assert clf.classify("楼下经常有人遛狗").severity is Severity.GENERAL

    @pytest.mark.parametrize("text", ["集体户口怎么迁出？", "我在抖音上看到小区的视频", "业主们都觉得绿化不错"])
    def test_words_that_are_no_threat_raise_no_flag(self, clf, text):
        result = clf.classify(text)
        assert result.flags == frozenset() and result.severity is not Severity.URGENT


class TestChatKind:
    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("你好。请问物业费怎么交？", Kind.INQUIRY),
            ("我是5栋业主。想问一下装修押金什么时候退？", Kind.INQUIRY),
            ("您好！建议在车棚装几个充电桩。", Kind.SUGGESTION),
            ("停车费怎么收？", Kind.INQUIRY),
            ("楼上漏水到我家了。请问物业可以帮忙联系吗？", Kind.COMPLAINT),
            ("电梯又坏了，请问什么时候能修好？", Kind.COMPLAINT),
            ("3栋电梯坏了。请问什么时候修？", Kind.COMPLAINT),
        ],
    )
    def test_kind_of_chat_messages(self, clf, text, kind):
        assert clf.classify(text).kind is kind


class TestChatCompounds:
    """Short chat messages whose key word jieba keeps inside a longer token (电梯门 → 电梯)."""

    @pytest.mark.parametrize(
        ("text", "category"),
        [
            ("电梯门关不上", Category.ENGINEERING),
            ("電梯門關不上", Category.ENGINEERING),
            ("楼道灯不亮", Category.ENGINEERING),
            ("樓道燈不亮", Category.ENGINEERING),
            # access control is 安全管理 in the SPEC table ("theft, access control, patrols, cameras")
            ("门禁卡刷不开", Category.SECURITY),
            ("垃圾房好臭", Category.ENVIRONMENT),
            ("楼上天天半夜拖椅子", Category.NEIGHBOURS),
            # a guard misbehaving on duty (睡觉, 玩手机, 脱岗) is staff conduct → 服务人员;
            # missing patrols without misconduct of a person ("看不到保安巡逻") stay 安全管理
            ("保安睡觉不巡逻", Category.STAFF),
            ("保安上班时间一直玩手机", Category.STAFF),
            ("晚上都看不到保安巡逻", Category.SECURITY),
        ],
    )
    def test_short_messages(self, clf, text, category):
        result = clf.classify(text)
        assert result.category is category, result.reason()
        assert result.kind is Kind.COMPLAINT

    def test_contained_term_is_reported_with_reduced_weight(self, clf):
        compound = clf.classify("电梯门老夹人")
        assert compound.category is Category.ENGINEERING
        assert [h.term for h in compound.keywords if h.target == "category:工程管理"] == ["电梯"]
        assert "电梯门" not in compound.reason()
        direct = clf.classify("电梯老夹人")
        weight = {h.target: h.weight for h in direct.keywords}["category:工程管理"]
        factor = clf.settings["compound_factor"]
        assert 0 < factor < 1
        assert {h.target: h.weight for h in compound.keywords}["category:工程管理"] == pytest.approx(weight * factor)

    def test_a_token_that_is_a_term_is_not_split(self, clf):
        # 电梯口 is listed as a place (context only): it must not count as the lift itself
        hits = clf.classify("电梯口好热").keywords
        assert not any(h.target == "category:工程管理" for h in hits)

    def test_negation_still_applies(self, clf):
        def smell(text):
            return [h for h in clf.classify(text).keywords if h.term == "臭味"]

        assert smell("楼道里一股臭味儿")  # 臭味儿 → 臭味
        assert not smell("楼道里已经没有臭味儿了")
        assert not smell("楼道里的臭味儿没了")
        # a negation inside the token itself: never split ("无噪音" is not "噪音")
        assert clf._compound("无噪音") is None

    def test_only_topics_not_kind_or_flag_gates(self, clf):
        found = clf._compound("主管部门")  # 主管 is a staff_report gate word only
        assert found is None or all(not e.target.startswith(("kind:", "flag:")) for e in found[1])
        assert clf._compound("强烈要求") is None  # 要求 is kind evidence only

    def test_long_texts_are_not_split(self, clf):
        long_text = "电梯门关不上。" + "我们小区的情况大家都知道，" * 8
        assert len(long_text) > clf.settings["compound_max_chars"]
        assert not any(h.term == "电梯" for h in clf.classify(long_text).keywords)


class TestReason:
    def test_category_terms_first_deduplicated_without_context(self, clf):
        result = clf.classify("3栋1单元的电梯又坏了，停在8楼不动，已经两天没人修，老人上下楼很不方便。")
        reason = result.reason()
        assert reason.startswith("分类「工程管理」：电梯")
        assert "3栋" not in reason and "1单元" not in reason  # context words stay in keywords only
        assert any(h.target == "context:property" for h in result.keywords)
        assert "重要：" in reason and "又坏了" in reason
        category_part = reason.split("；")[0]
        terms = category_part.split("：", 1)[1].split("、")
        assert len(terms) == len(set(terms)) <= 5
        assert "(+" not in reason  # weights are in keywords, not in the resident-facing text

    def test_urgent_and_flags(self, clf):
        reason = clf.classify("樓道有煤氣味，再不處理我們就找媒體曝光").reason()
        assert "紧急：煤气味" in reason
        assert "媒体：" in reason and "曝光" in reason

    def test_other_without_property_terms(self, clf):
        reason = clf.classify("希望开通一条到地铁站的公交线路").reason()
        assert reason.startswith("分类「其他」：")


class TestFastPaths:
    TEXTS = [
        "3棟1單元的電梯又壞了，停在8樓不動！Ｗｉｆｉ也斷了 abc 12號樓 e-mail: a.b@c.com\r\n什麼時候修？",
        "乾隆年間的著名古建築，什麼么麽",
        "",
        "   ",
        "业主们反映：小区停车位不够，外来车辆乱停乱放。",
    ]

    def test_segmenter_matches_jieba(self, clf):
        for text in self.TEXTS:
            assert clf._segmenter.lcut(text) == clf._tokenizer.lcut(text, HMM=False)

    def test_t2s_matches_opencc(self):
        from services.text_norm import _get_converter, to_simplified

        for text in self.TEXTS:
            assert to_simplified(text) == _get_converter().convert(text)


def test_malformed_lexicon_message_names_file_line_and_problem(tmp_path: Path):
    path = tmp_path / "lexicon.toml"
    path.write_text('[settings]\nlead_boost = 2.0\n\n[kind."投诉".terms]\n"投诉" = 3.0\n"举报" = [3]\n', encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_lexicon(path, overlay=False)
    message = str(err.value)
    assert message.startswith(f"{path}, line 6:")
    assert "举报" in message and "number" in message
