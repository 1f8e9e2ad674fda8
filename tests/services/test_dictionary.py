"""The compact jieba dictionary (services.classify.dictionary): exactly jieba's own dictionary,
the same segmentation as jieba with the classifier's words added the jieba way, and a disk cache
that is rebuilt when it is stale or damaged."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from services.classify import dictionary
from services.classify.dictionary import CompactDictionary, jieba_dictionary_path, load_dictionary
from services.classify.segment import _import_jieba, _new_tokenizer, _Segmenter
from services.text_norm import normalize

ROOT = Path(__file__).parents[2]
DEV_SET = ROOT.parent / "shared" / "data" / "complaints-dev.tsv"  # the shared seeds, when present


def _jieba_tokenizer():
    """A fresh jieba tokenizer over jieba's own (dict-based) dictionary."""
    jieba = _import_jieba()
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def _sample_texts() -> list[str]:
    texts = []
    files = sorted((ROOT / "tests" / "services" / "data").glob("*.tsv")) + [ROOT / "bench" / "chat_messages.txt"]
    if DEV_SET.exists():
        files.append(DEV_SET)
    for path in files:
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            texts.extend(col for col in line.split("\t") if not col.isascii())
    texts += ["", "   ", "abc 12號樓 e-mail: a.b@c.com\r\n什麼時候修？", "乾隆年間的著名古建築，什麼么麽"]
    assert len(texts) > 500
    return texts


@pytest.fixture(scope="module")
def reference():
    return _jieba_tokenizer()


def test_the_compact_dictionary_is_jiebas_dictionary(reference):
    compact = load_dictionary()
    assert isinstance(compact, CompactDictionary)
    assert compact.total == reference.total
    assert len(compact) == len(reference.FREQ)
    assert all(compact.get(word) == freq for word, freq in reference.FREQ.items())
    assert compact.get("不是一个词语的片段") is None and "不是一个词语的片段" not in compact


def test_segmentation_is_jiebas_with_the_classifiers_words(reference):
    from services.classify import Classifier

    clf = Classifier.load(model=False)
    words = set(clf._lookup_table) | set(clf.lexicon.dictionary)
    words |= clf.lexicon.negation_before | clf.lexicon.negation_after
    # jieba's own way of adding words (Tokenizer.add_word), on jieba's own dict
    for word in sorted(words):
        if word and len(word) >= 2 and not word.isascii():
            reference.add_word(word, max(reference.FREQ.get(word, 0), 2000))
    assert clf._tokenizer.total == reference.total
    for text in _sample_texts():
        norm = normalize(text)
        expected = reference.lcut(norm, HMM=False)
        assert clf._segmenter.lcut(norm) == expected, text
        assert clf._tokenizer.lcut(norm, HMM=False) == expected, text
        assert clf._tokenizer.lcut(norm, HMM=True) == reference.lcut(norm, HMM=True), text


def test_tokenizers_share_the_main_dictionary_and_keep_their_own_words():
    first = _new_tokenizer(["水泵坏了吧"])
    plain = _new_tokenizer([])
    assert first.FREQ.main is plain.FREQ.main  # one compact dictionary per process
    assert first.FREQ["水泵坏了吧"] == 2000 and first.FREQ["水泵坏了"] == 0
    assert "水泵坏了吧" not in plain.FREQ and "水泵坏了" not in plain.FREQ
    assert _Segmenter(first).lcut("水泵坏了吧") == ["水泵坏了吧"]
    assert _Segmenter(plain).lcut("水泵坏了吧") == ["水泵", "坏", "了", "吧"]


def _write_dict(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def fresh(monkeypatch):
    """Forget the dictionaries this process loaded: every load reads the disk again."""
    monkeypatch.setattr(dictionary, "_loaded", {})
    return dictionary._loaded


def test_cache_is_built_on_first_use_and_reused(tmp_path, fresh):
    source = _write_dict(tmp_path / "dict.txt", ["电梯 100 n", "电梯门 20 n", "水泵 7 n"])
    cache = tmp_path / "cache"
    words = load_dictionary(source, cache)
    assert dict(words.items()) == {"电": 0, "电梯": 100, "电梯门": 20, "水": 0, "水泵": 7}
    assert words.total == 127
    built = sorted(p.name for p in cache.iterdir())
    assert len(built) == 3 and not any(name.endswith(".tmp") for name in built)
    stamps = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    fresh.clear()
    again = load_dictionary(source, cache)
    assert dict(again.items()) == dict(words.items())
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps  # read, not rebuilt


def test_cache_is_rebuilt_when_the_source_dictionary_changes(tmp_path, fresh):
    source = _write_dict(tmp_path / "dict.txt", ["电梯 100 n", "水泵 7 n"])
    cache = tmp_path / "cache"
    assert load_dictionary(source, cache).get("水泵") == 7
    _write_dict(source, ["电梯 100 n", "水泵 9 n", "漏水 5 v"])
    fresh.clear()
    changed = load_dictionary(source, cache)
    assert changed.get("水泵") == 9 and changed.get("漏水") == 5 and changed.total == 114


@pytest.mark.parametrize("damage", ["trie", "freq", "meta", "truncate", "missing"])
def test_a_damaged_cache_is_rebuilt(tmp_path, fresh, damage):
    source = _write_dict(tmp_path / "dict.txt", [f"词{chr(0x4E00 + i)}{chr(0x4E00 + i * 7 % 97)} {i + 1} n"
                                                 for i in range(300)])
    cache = tmp_path / "cache"
    expected = dict(load_dictionary(source, cache).items())
    trie_file = next(cache.glob("*.marisa"))
    target = {"trie": trie_file, "freq": next(cache.glob("*.freq")), "meta": next(cache.glob("*.json")),
              "truncate": trie_file, "missing": trie_file}[damage]
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "missing":
        target.unlink()
    else:
        for i in range(len(data) // 3, len(data) // 3 + 16):
            data[i] ^= 0x5A
        target.write_bytes(data)
    fresh.clear()
    rebuilt = load_dictionary(source, cache)
    assert dict(rebuilt.items()) == expected
    meta = json.loads(next(cache.glob("*.json")).read_text())
    stamps = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    fresh.clear()
    assert dict(load_dictionary(source, cache).items()) == expected
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps  # the rebuilt files are sound
    assert meta["keys"] == len(expected)


def test_an_unwritable_cache_directory_keeps_the_dictionary_in_memory(tmp_path, fresh):
    source = _write_dict(tmp_path / "dict.txt", ["电梯 100 n", "水泵 7 n"])
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    words = load_dictionary(source, blocked / "cache")
    assert words.get("电梯") == 100 and words.total == 107


def test_the_default_source_is_jiebas_dict_txt():
    path = jieba_dictionary_path()
    assert path.name == "dict.txt" and path.exists()
    assert "jieba" not in sys.modules or Path(sys.modules["jieba"].__file__).parent == path.parent
