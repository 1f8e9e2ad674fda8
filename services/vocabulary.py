"""Input vocabulary (``services/lexicon/vocabulary.toml``): words the code recognises in what
residents type — address parts, "anonymous" — kept as data beside the classifier's lexicon."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

VOCABULARY_PATH = Path(__file__).resolve().parent / "lexicon" / "vocabulary.toml"


@cache
def vocabulary() -> dict[str, Any]:
    with VOCABULARY_PATH.open("rb") as handle:
        return tomllib.load(handle)
