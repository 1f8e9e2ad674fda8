"""All user-facing wording lives in the locale catalogues: no Chinese string literal in Python code
outside the catalogues, the classifier's lexicon data (services/lexicon/*.toml), tests and the sandbox.
Docstrings and comments may quote the procedure's Chinese terms."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("bot", "handlers", "services", "scheduler", "models", "web")  # bench, like tests, holds sample data
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (module, class, function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def chinese_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and HAN.search(node.value)]


def test_no_chinese_string_literal_in_python_code():
    files = [path for folder in CHECKED if (ROOT / folder).is_dir() for path in (ROOT / folder).rglob("*.py")]
    assert len(files) > 30, "the scan found too few files"
    found = [line for path in sorted(files) for line in chinese_literals(path)]
    assert found == [], "wording belongs in locales/ (or lexicon data):\n" + "\n".join(found)
