"""Unit tests for the Telegram HTML parse mode emulation."""

from __future__ import annotations

import pytest

from sandbox.htmlparse import EntityParseError, command_entities, parse_html, strip_with_entities, utf16_len


class TestParseHtml:
    def test_plain_text_and_unescaping(self) -> None:
        text, entities = parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#20013;&#x6587;")
        assert text == 'a <b> & "c" 中文'
        assert entities == []

    def test_nested_entities_with_utf16_offsets(self) -> None:
        text, entities = parse_html("😀 <b>粗<i>斜</i></b> <a href=\"https://x.cn/?a=1&amp;b=2\">链接</a>")
        assert text == "😀 粗斜 链接"
        assert entities == [
            {"type": "bold", "offset": 3, "length": 2},
            {"type": "italic", "offset": 4, "length": 1},
            {"type": "text_link", "offset": 6, "length": 2, "url": "https://x.cn/?a=1&b=2"},
        ]

    @pytest.mark.parametrize(
        ("tag", "entity"),
        [
            ("strong", "bold"), ("em", "italic"), ("u", "underline"), ("ins", "underline"),
            ("s", "strikethrough"), ("strike", "strikethrough"), ("del", "strikethrough"),
            ("code", "code"), ("pre", "pre"), ("tg-spoiler", "spoiler"), ("blockquote", "blockquote"),
        ],
    )
    def test_allowed_tags(self, tag: str, entity: str) -> None:
        text, entities = parse_html(f"<{tag}>x</{tag}>")
        assert text == "x"
        assert entities == [{"type": entity, "offset": 0, "length": 1}]

    def test_span_spoiler_pre_language_and_expandable_quote(self) -> None:
        _, ents = parse_html('<span class="tg-spoiler">s</span><pre><code class="language-python">p</code></pre>'
                             "<blockquote expandable>q</blockquote>")
        assert ents == [
            {"type": "spoiler", "offset": 0, "length": 1},
            {"type": "pre", "offset": 1, "length": 1, "language": "python"},
            {"type": "expandable_blockquote", "offset": 2, "length": 1},
        ]

    @pytest.mark.parametrize(
        "bad",
        ["<b>x", "x</b>", "<b><i>x</b></i>", "<br>", "<div>x</div>", "a < b", "fish & chips", "&nbsp;",
         "<span>x</span>", "<b/>"],
    )
    def test_refusals(self, bad: str) -> None:
        with pytest.raises(EntityParseError):
            parse_html(bad)

    def test_bare_greater_than_is_accepted(self) -> None:
        assert parse_html("a > b")[0] == "a > b"


class TestHelpers:
    def test_utf16_len(self) -> None:
        assert utf16_len("a中😀") == 4

    def test_strip_shifts_entities(self) -> None:
        text, ents = strip_with_entities("  <x>  ", [{"type": "bold", "offset": 1, "length": 4}])
        assert text == "<x>"
        assert ents == [{"type": "bold", "offset": 0, "length": 3}]

    def test_command_entities(self) -> None:
        assert command_entities("/start@huifang_bot go /help") == [
            {"type": "bot_command", "offset": 0, "length": 18},
            {"type": "bot_command", "offset": 22, "length": 5},
        ]
        assert command_entities("a/b and http://x/y") == []
