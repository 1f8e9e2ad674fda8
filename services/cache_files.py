"""The machine's cache directory for files derived from shipped data (dictionary trie, catalogues).

``$HUIFANG_CACHE_DIR``, else ``$XDG_CACHE_HOME/huifang``, else ``~/.cache/huifang``.  Files are
named after a checksum of what they were built from and written atomically, so processes that
share the directory never read a partial or stale file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "HUIFANG_CACHE_DIR"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "huifang"


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """``write(temporary path)``, then move it into place (readers never see a partial file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # shared by every process (and user) of the machine, read-only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
