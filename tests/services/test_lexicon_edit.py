"""Editing one target of the classifier's lexicon: its tables cut out and put back, the whole file
validated by the loader before it is written, nothing else touched."""

from __future__ import annotations

import shutil

import pytest

from services.classify import Classifier, load_lexicon
from services.classify.lexicon import DEFAULT_LEXICON_PATH
from services.errors import DeskError
from services.lexicon_edit import Target, edit, tables_of, targets, with_tables

LIFT = Target("category", "工程管理")
SHIPPED = DEFAULT_LEXICON_PATH.read_text(encoding="utf-8")


@pytest.fixture
def copy(tmp_path):
    path = tmp_path / "lexicon.toml"
    shutil.copy(DEFAULT_LEXICON_PATH, path)
    return path


class TestTables:
    def test_a_target_has_its_own_tables_only(self):
        tables = tables_of(SHIPPED, LIFT)
        assert tables.startswith('[category."工程管理".terms]') and '[category."工程管理".symptoms]' in tables
        assert '"电梯" = 3.0' in tables and "环境管理" not in tables

    def test_putting_the_same_tables_back_changes_nothing_the_loader_sees(self, tmp_path):
        again = tmp_path / "again.toml"
        again.write_text(with_tables(SHIPPED, LIFT, tables_of(SHIPPED, LIFT)), encoding="utf-8")
        assert load_lexicon(again, overlay=False).entries == load_lexicon(DEFAULT_LEXICON_PATH, overlay=False).entries

    def test_every_category_is_a_target(self):
        keys = {t.key for t in targets(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False))}
        assert {"category:工程管理", "category:环境管理", "kind:投诉", "severity:urgent"} <= keys


class TestEdit:
    def test_a_new_term_is_saved_and_classified(self, copy):
        before = Classifier(load_lexicon(copy, overlay=False)).classify("小区喷泉池子的水发绿发臭")
        assert "喷泉" not in [k.term for k in before.keywords]
        tables = tables_of(copy.read_text(encoding="utf-8"), LIFT).replace(
            '[category."工程管理".terms]\n', '[category."工程管理".terms]\n"喷泉" = 3.0\n', 1)
        lexicon = edit(str(copy), LIFT, tables)
        assert '"喷泉" = 3.0' in copy.read_text(encoding="utf-8")
        classifier = Classifier(load_lexicon(copy, overlay=False))
        after = classifier.classify("小区喷泉池子的水发绿发臭")
        assert "喷泉" in [k.term for k in after.keywords]
        assert any(e.term == "喷泉" and e.target == LIFT.key for e in lexicon.entries)

    def test_a_mistake_names_its_line_and_keeps_the_file(self, copy):
        tables = tables_of(copy.read_text(encoding="utf-8"), LIFT).replace('"电梯" = 3.0', '"电梯" = "heavy"')
        with pytest.raises(DeskError) as refused:
            edit(str(copy), LIFT, tables)
        assert refused.value.code == "lexicon_invalid" and "line" in refused.value.params["detail"]
        assert copy.read_text(encoding="utf-8") == SHIPPED
        assert not list(copy.parent.glob("*.part")) and len(list(copy.parent.iterdir())) == 1

    def test_tables_of_another_target_are_refused(self, copy):
        with pytest.raises(DeskError) as refused:
            edit(str(copy), LIFT, '[category."环境管理".terms]\n"垃圾" = 3.0\n')
        assert refused.value.code == "lexicon_outside_target"
        with pytest.raises(DeskError):
            edit(str(copy), LIFT, '"电梯" = 3.0\n')  # a key outside any table
        assert copy.read_text(encoding="utf-8") == SHIPPED

    def test_a_classifier_switches_to_the_edited_lexicon_in_place(self, copy):
        classifier = Classifier(load_lexicon(copy, overlay=False))
        held = classifier  # the bot, the console and the scheduler share this one object
        lexicon = edit(str(copy), LIFT, tables_of(copy.read_text(encoding="utf-8"), LIFT).replace(
            '[category."工程管理".terms]\n', '[category."工程管理".terms]\n"喷泉" = 3.0\n', 1))
        classifier.use_lexicon(lexicon)
        assert "喷泉" in [k.term for k in held.classify("喷泉坏了").keywords]
