"""jieba's main dictionary as a compact, memory-mapped trie, built once and cached on disk.

jieba keeps its dictionary in a ``dict`` of 498,113 words and word prefixes → frequency: about
62 MB of every process's memory.  Here the same mapping is a static ``marisa_trie.Trie`` (the
keys) plus an array of frequencies indexed by the trie's key ids, both memory-mapped from a
cache directory: a few MB, shared by every process on the machine through the page cache.

The cache is built from jieba's own ``dict.txt`` with jieba's own parser
(``Tokenizer.gen_pfdict``), so the mapping is exactly jieba's ``FREQ`` (the same words, the same
zero-frequency prefixes, the same ``total``).  Its files are named after the SHA-256 of the
source dictionary (a changed dictionary gets a new cache) and checked against the checksums
written with them: a stale, truncated or corrupt cache is rebuilt, never used.  Building takes a
few seconds and happens automatically on first use; an unwritable cache directory only means
the trie is built in memory for this process.

Cache directory: ``$HUIFANG_CACHE_DIR``, else ``$XDG_CACHE_HOME/huifang``, else
``~/.cache/huifang``.
"""

from __future__ import annotations

import array
import hashlib
import importlib.util
import json
import logging
import mmap
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import marisa_trie

from services.cache_files import cache_dir, write_atomically

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the files' layout changes: older caches are then ignored
_lock = threading.Lock()
_loaded: dict[tuple[str, str], CompactDictionary] = {}


def jieba_dictionary_path() -> Path:
    """jieba's ``dict.txt``, found without importing jieba (its import loads the HMM tables)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("jieba is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


class CompactDictionary(Mapping[str, int]):
    """word → frequency, read-only, as jieba's ``Tokenizer.FREQ`` (prefixes have frequency 0)."""

    def __init__(self, trie: marisa_trie.Trie, freqs, total: int, *, keep=()) -> None:
        self.trie = trie
        self.freqs = freqs  # sequence of int indexed by the trie's key id
        self.total = total
        self._keep = keep  # the mmap objects behind ``freqs``

    def get(self, key, default=None):
        i = self.trie.get(key)
        return default if i is None else self.freqs[i]

    def __getitem__(self, key: str) -> int:
        i = self.trie.get(key)
        if i is None:
            raise KeyError(key)
        return self.freqs[i]

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key in self.trie

    def __len__(self) -> int:
        return len(self.trie)

    def __iter__(self) -> Iterator[str]:
        return iter(self.trie.keys())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse(source: Path) -> tuple[dict[str, int], int]:
    """jieba's FREQ and total for ``source``, parsed by jieba itself."""
    from services.classify.segment import _import_jieba

    jieba = _import_jieba()
    with source.open("rb") as fh:
        return jieba.Tokenizer.gen_pfdict(fh)


def _build(freq: dict[str, int]) -> tuple[marisa_trie.Trie, array.array]:
    trie = marisa_trie.Trie(freq.keys())
    typecode = "I" if all(0 <= v < 2**32 for v in freq.values()) else "q"
    freqs = array.array(typecode, bytes(array.array(typecode).itemsize * len(trie)))
    for word, value in freq.items():
        freqs[trie[word]] = value
    return trie, freqs


def _paths(folder: Path, source_sha: str) -> tuple[Path, Path, Path]:
    stem = f"jieba-dict-v{FORMAT}-{source_sha[:16]}"
    return folder / f"{stem}.marisa", folder / f"{stem}.freq", folder / f"{stem}.json"


def _write_array(values: array.array):
    def write(path: str) -> None:
        with open(path, "wb") as fh:
            values.tofile(fh)

    return write


def _open_cached(folder: Path, source: Path, source_sha: str) -> CompactDictionary | None:
    """The cached dictionary, or None when it is missing, stale or fails its checksums."""
    trie_path, freq_path, meta_path = _paths(folder, source_sha)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("source_sha256") != source_sha:
            return None
        if _sha256(trie_path) != meta["trie_sha256"] or _sha256(freq_path) != meta["freq_sha256"]:
            log.warning("jieba dictionary cache %s is corrupt: rebuilding it", trie_path)
            return None
        trie = marisa_trie.Trie().mmap(str(trie_path))
        with freq_path.open("rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        freqs = memoryview(mapped).cast(meta["typecode"])
        if len(trie) != meta["keys"] or len(freqs) != meta["keys"]:
            return None
        return CompactDictionary(trie, freqs, int(meta["total"]), keep=(mapped,))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        log.warning("jieba dictionary cache %s unusable (%s): rebuilding it", trie_path, err)
        return None


def _build_and_store(folder: Path, source: Path, source_sha: str) -> CompactDictionary:
    freq, total = _parse(source)
    trie, freqs = _build(freq)
    del freq
    trie_path, freq_path, meta_path = _paths(folder, source_sha)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(trie_path, trie.save)
        write_atomically(freq_path, _write_array(freqs))
        meta = {"format": FORMAT, "source": str(source), "source_sha256": source_sha, "keys": len(trie),
                "total": total, "typecode": freqs.typecode, "trie_sha256": _sha256(trie_path),
                "freq_sha256": _sha256(freq_path)}
        write_atomically(meta_path, lambda path: Path(path).write_text(json.dumps(meta, indent=1), encoding="utf-8"))
    except OSError as err:
        log.warning("cannot cache jieba's dictionary in %s (%s): kept in memory", folder, err)
        return CompactDictionary(trie, freqs, total)
    cached = _open_cached(folder, source, source_sha)  # use the shared, memory-mapped copy
    return cached if cached is not None else CompactDictionary(trie, freqs, total)


def load_dictionary(source: Path | None = None, folder: Path | None = None) -> CompactDictionary:
    """jieba's main dictionary (``source``: jieba's ``dict.txt``) as a :class:`CompactDictionary`,
    from the cache in ``folder`` (built there first if missing, stale or corrupt); one per
    process and source."""
    source = Path(source) if source is not None else jieba_dictionary_path()
    folder = Path(folder) if folder is not None else cache_dir()
    source_sha = _sha256(source)
    key = (str(folder), source_sha)
    with _lock:
        found = _loaded.get(key)
        if found is None:
            found = _open_cached(folder, source, source_sha)
            if found is None:
                log.info("building the compact jieba dictionary cache in %s", folder)
                found = _build_and_store(folder, source, source_sha)
            _loaded[key] = found
    return found


__all__ = ["CompactDictionary", "cache_dir", "jieba_dictionary_path", "load_dictionary"]
