"""Editing the classifier's keyword lexicon from the admin page, one target at a time.

A target is one category, kind, severity, flag or context (``category`` + ``工程管理``): the admin
sees the TOML tables of that target (``[category."工程管理".terms]`` …) as text, edits them, and the
whole lexicon with the new tables is validated by the classifier's own loader (which names the
line of any mistake) before it is written — atomically, to the edited copy — and put in use.
Comments and the other targets' text are kept as they are.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from services.classify import lexicon as loader
from services.classify.lexicon import Lexicon, LexiconError, load_lexicon
from services.errors import DeskError

GROUPS = ("category", "kind", "severity", "flag", "context")
HEADER = re.compile(r"^\s*\[[^\[\]].*\]\s*(#.*)?$")
TEXT_MAX = 200_000


@dataclass(frozen=True)
class Target:
    group: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.group}:{self.name}"

    @property
    def header(self) -> str:
        """How its tables' headers begin: ``category."工程管理"``."""
        return f'{self.group}."{self.name}"'

    @classmethod
    def parse(cls, key: str) -> Target:
        group, _, name = key.partition(":")
        if group not in GROUPS or not name:
            raise DeskError("lexicon_target_unknown")
        return cls(group, name)


def lexicon_path(configured: str | None) -> Path:
    """The lexicon in use: ``LEXICON_PATH``, else the admin's edited copy if there is one, else the
    shipped file (the same rule as the classifier's loader)."""
    if configured:
        return Path(configured)
    edited = loader.EDITED_LEXICON_PATH
    return edited if edited.is_file() else loader.DEFAULT_LEXICON_PATH


def save_path(configured: str | None) -> Path:
    """Where an edit is written: never over the shipped file."""
    return Path(configured) if configured else loader.EDITED_LEXICON_PATH


def _table_of(line: str) -> tuple[str, ...] | None:
    """The key path of a TOML table header line (``[category."工程管理".terms]``), else None."""
    if not HEADER.match(line):
        return None
    try:
        data = tomllib.loads(line.strip() + "\n")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key = next(iter(data))
        path.append(key)
        data = data[key]
    return tuple(path)


def _blocks(text: str) -> list[tuple[tuple[str, ...] | None, list[str]]]:
    """The text cut at table headers: (table path or None for the preamble, its lines)."""
    blocks: list[tuple[tuple[str, ...] | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        table = _table_of(line)
        if table is not None:
            blocks.append((table, [line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def _belongs(table: tuple[str, ...] | None, target: Target) -> bool:
    return table is not None and len(table) >= 2 and table[0] == target.group and table[1] == target.name


def targets(lexicon: Lexicon) -> list[Target]:
    """Every target of the lexicon, in the loader's order."""
    seen: dict[str, Target] = {}
    for entry in lexicon.entries:
        group, _, name = entry.target.partition(":")
        seen.setdefault(f"{group}:{name}", Target(group, name))
    return list(seen.values())


def tables_of(text: str, target: Target) -> str:
    """The target's tables as they are written in the lexicon."""
    lines = [line for table, block in _blocks(text) if _belongs(table, target) for line in block]
    return "\n".join(lines).strip() + "\n" if lines else ""


def with_tables(text: str, target: Target, tables: str) -> str:
    """The lexicon with the target's tables replaced by ``tables`` (put where the first one was)."""
    new_blocks = _blocks(tables.replace("\r\n", "\n"))
    if any(line.strip() and not line.lstrip().startswith("#") for line in new_blocks[0][1]):
        raise DeskError("lexicon_outside_target", target=target.header)  # keys before the first header
    for table, _lines in new_blocks[1:]:
        if not _belongs(table, target):
            raise DeskError("lexicon_outside_target", target=target.header)
    out: list[str] = []
    placed = False
    for table, block in _blocks(text):
        if _belongs(table, target):
            if not placed:
                out.extend(tables.strip().splitlines() + [""])
                placed = True
            continue
        out.extend(block)
    if not placed:
        out.extend(["", *tables.strip().splitlines(), ""])
    return "\n".join(out).rstrip("\n") + "\n"


def check(text: str, *, folder: Path) -> Lexicon:
    """The lexicon this text would load as; refuses it with the loader's message (and line)."""
    if len(text) > TEXT_MAX:
        raise DeskError("lexicon_invalid", detail=f"longer than {TEXT_MAX} characters")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".toml", dir=folder, delete=False) as draft:
        draft.write(text)
    try:
        return load_lexicon(draft.name)
    except LexiconError as error:
        raise DeskError("lexicon_invalid", detail=str(error).replace(draft.name, "lexicon")) from None
    finally:
        os.unlink(draft.name)


def save(text: str, path: Path) -> Lexicon:
    """Validate and write the lexicon (a crash leaves the old file or the new one, never half)."""
    lexicon = check(text, folder=path.parent)
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return replace(lexicon, path=path)  # loaded from the same text: no second load


def edit(configured: str | None, target: Target, tables: str) -> Lexicon:
    """Replace one target's tables in the lexicon in use and save it; returns the new lexicon."""
    current = lexicon_path(configured).read_text(encoding="utf-8")
    return save(with_tables(current, target, tables), save_path(configured))


__all__ = ["GROUPS", "Target", "check", "edit", "lexicon_path", "save",
           "save_path", "tables_of", "targets", "with_tables"]
