"""Telegram-style HTML parse mode for the sandbox.

Turns an HTML-formatted message into the plain visible text plus a list of
Telegram ``MessageEntity`` dicts (offsets in UTF-16 code units), and refuses
what Telegram refuses (unknown or unbalanced tags, bare ``<`` / ``&``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "EntityParseError",
    "parse_html",
    "utf16_len",
    "strip_with_entities",
    "command_entities",
]


class EntityParseError(ValueError):
    """Raised when the HTML cannot be parsed the way Telegram would."""


_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(/?)>"
)
_ATTR_RE = re.compile(
    r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"
)
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's offset unit)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _unquote(value: str | None) -> str:
    if value is None:
        return ""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return _decode_entities(value)


def _decode_entities(value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return _entity_char(m)

    return _ENTITY_RE.sub(repl, value)


def _entity_char(m: re.Match[str]) -> str:
    named, dec, hexa = m.groups()
    if named:
        return _NAMED[named]
    code = int(dec) if dec else int(hexa, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError("invalid numeric HTML entity")
    return chr(code)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML; return ``(plain_text, entities)`` or raise EntityParseError."""
    out: list[str] = []
    pos16 = 0  # current UTF-16 offset of the output
    stack: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "<":
            m = _TAG_RE.match(source, i)
            if m is None:
                raise EntityParseError(
                    f"unclosed start tag or bare '<' at byte offset {_byte_offset(source, i)}"
                )
            closing, name, attrs, selfclose = m.groups()
            name = name.lower()
            if closing:
                if not stack:
                    raise EntityParseError(
                        f'unexpected end tag "</{name}>" at byte offset {_byte_offset(source, i)}'
                    )
                top = stack.pop()
                if top["tag"] != name:
                    raise EntityParseError(
                        f'unmatched end tag at byte offset {_byte_offset(source, i)}, '
                        f'expected "</{top["tag"]}>", found "</{name}>"'
                    )
                length = pos16 - top["offset"]
                if top.get("entity") and length > 0:
                    ent = {"type": top["entity"], "offset": top["offset"], "length": length}
                    ent.update(top.get("extra", {}))
                    entities.append(ent)
            else:
                if name not in _SIMPLE_TAGS or selfclose:
                    raise EntityParseError(
                        f'unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}'
                    )
                attr_map = {
                    a.group(1).lower(): _unquote(a.group(2)) for a in _ATTR_RE.finditer(attrs)
                }
                frame: dict[str, Any] = {
                    "tag": name,
                    "offset": pos16,
                    "entity": _SIMPLE_TAGS[name],
                    "extra": {},
                }
                if name == "a":
                    href = attr_map.get("href", "")
                    if href:
                        frame["extra"] = {"url": href}
                    else:
                        frame["entity"] = None
                elif name == "span":
                    if attr_map.get("class") != "tg-spoiler":
                        raise EntityParseError('tag "span" must have class "tg-spoiler"')
                elif name == "blockquote" and "expandable" in attr_map:
                    frame["entity"] = "expandable_blockquote"
                elif name == "code":
                    cls = attr_map.get("class", "")
                    if stack and stack[-1]["tag"] == "pre":
                        # <pre><code class="language-x"> is a single pre entity
                        frame["entity"] = None
                        if cls.startswith("language-") and len(cls) > 9:
                            stack[-1]["extra"] = {"language": cls[9:]}
                stack.append(frame)
            i = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(source, i)
            if m is None:
                raise EntityParseError(
                    f"bare '&' or unsupported entity at byte offset {_byte_offset(source, i)}"
                )
            text = _entity_char(m)
            out.append(text)
            pos16 += utf16_len(text)
            i = m.end()
        else:
            j = i
            while j < n and source[j] not in "<&":
                j += 1
            chunk = source[i:j]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            i = j
    if stack:
        raise EntityParseError(f'can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def strip_with_entities(
    text: str, entities: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, shifting/clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_len(stripped)
    result = []
    for ent in entities:
        start = max(ent["offset"], lead)
        stop = min(ent["offset"] + ent["length"], end)
        if stop > start:
            result.append({**ent, "offset": start - lead, "length": stop - start})
    return stripped, result


_COMMAND_RE = re.compile(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![\w@])")


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every ``/command`` (or ``/command@bot``) in ``text``."""
    result = []
    for m in _COMMAND_RE.finditer(text):
        if m.start() > 0 and not text[m.start() - 1].isspace():
            continue
        result.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return result
