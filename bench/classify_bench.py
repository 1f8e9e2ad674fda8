"""Throughput, start-up time and memory of the complaint classifier (``services.classify``).

Run: ``python -m bench.classify_bench [--dev PATH] [--lines N] [--repeat R]``

Prints, for two workloads,

* *dev-like lines*: the labelled dev file's messages (``title + "。" + detail``) repeated to
  ``--lines`` lines (default 3000);
* *chat messages*: short chat-length messages (the first clause or two of each dev message, cut
  to at most 40 characters, plus a set of hand-written ones), repeated likewise;
* *resident chat*: the hand-written phone-style messages of
  ``tests/services/data/chat_messages*.tsv`` (5–40 characters), repeated likewise;

the texts per second of the classifier (``Classifier.classify``) and of bare ``jieba.lcut``
(default dictionary, HMM on, jieba already initialised) on the same texts, and the ratio
classifier / bare jieba (goal ≥ 0.8).  Each figure is the best of ``--repeat`` runs.

Start-up = time to load the lexicon, load jieba's dictionary and classify the first message,
measured in a fresh subprocess (so that nothing is cached in this process); memory = the
resident-set-size increase over that start-up (``/proc/self/statm``, falling back to the peak
RSS from ``resource.getrusage``).  Bare jieba's own start-up and memory are shown for
comparison.  Figures only: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = ROOT.parent / "shared" / "data" / "complaints-dev.tsv"
CHAT_FILES = sorted((ROOT / "tests" / "services" / "data").glob("chat_messages*.tsv"))

CHAT_MESSAGES = [
    "电梯又坏了",
    "楼上半夜还在装修，吵死了",
    "請問物業費怎麼交？",
    "小区门口垃圾堆了三天没人清",
    "地下车库有积水，车进不去",
    "保安态度太差了，骂人",
    "建议在车棚装几个充电桩",
    "楼道灯不亮好几天了",
    "樓道有煤氣味，快來人！",
    "隔壁养的狗天天叫",
    "房产证什么时候能办下来",
    "停水了，什么时候恢复？",
    "公交站太远了，能不能加一站",
    "物业费为什么又涨了",
    "消防通道被车堵了",
    "水管漏水，家里淹了",
]


def _rss_kib() -> int:
    """Current resident set size in KiB (Linux), else the peak RSS."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak


def load_dev_texts(path: Path) -> list[str]:
    texts = []
    with path.open(encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh):
            cols = line.rstrip("\r\n").split("\t")
            if number == 0 and cols[0].strip().lower() == "id":
                continue
            if len(cols) >= 5:
                texts.append(cols[3] + "。" + cols[4])
    return texts


def resident_chat_texts() -> list[str]:
    """The titles of the hand-written chat-message test files (their detail column is empty)."""
    texts = []
    for path in CHAT_FILES:
        texts.extend(t[3] for t in (line.rstrip("\r\n").split("\t") for line in path.open(encoding="utf-8"))
                     if len(t) >= 4 and t[0] != "id")
    return texts


def chat_texts(dev_texts: list[str]) -> list[str]:
    """Short chat-length messages: the opening clauses of dev messages plus hand-written ones."""
    out = list(CHAT_MESSAGES)
    for text in dev_texts:
        clauses = [c for c in re.split(r"(?<=[。！？!?，,])", text) if c.strip()]
        short = "".join(clauses[:2])[:40]
        if short:
            out.append(short)
    return out


def repeat_to(texts: list[str], n: int) -> list[str]:
    if not texts:
        return []
    return [texts[i % len(texts)] for i in range(n)]


def best_rate(fn, texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best if best > 0 else float("inf")


# -- start-up, measured in a child process -------------------------------------------------------


def _startup_child(what: str) -> None:
    rss0 = _rss_kib()
    t0 = time.perf_counter()
    if what == "classifier":
        from services.classify import Classifier

        clf = Classifier.load()
        clf.classify("楼道灯坏了，请尽快修理")
    else:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.lcut("楼道灯坏了，请尽快修理")
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "rss_kib": _rss_kib() - rss0}))


def measure_startup(what: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.classify_bench", "--startup-child", what],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="labelled dev TSV")
    parser.add_argument("--lines", type=int, default=3000, help="lines per workload")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is shown)")
    parser.add_argument("--startup-child", choices=("classifier", "jieba"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.startup_child:
        _startup_child(args.startup_child)
        return 0

    if not args.dev.exists():
        print(f"dev file not found: {args.dev}", file=sys.stderr)
        return 2

    clf_start = measure_startup("classifier")
    jieba_start = measure_startup("jieba")

    import logging

    import jieba

    from services.classify import Classifier

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    clf = Classifier.load()

    dev = load_dev_texts(args.dev)
    workloads = {
        "dev-like lines": repeat_to(dev, args.lines),
        "chat messages": repeat_to(chat_texts(dev), args.lines),
    }
    resident = resident_chat_texts()
    if resident:
        workloads["resident chat"] = repeat_to(resident, args.lines)
    print(f"classifier benchmark  (python {sys.version.split()[0]}, lexicon {clf.lexicon.path.name})")
    print(f"{'workload':<16} {'lines':>6} {'avg chars':>9} {'classifier/s':>13} {'jieba.lcut/s':>13} {'ratio':>6}")
    for name, texts in workloads.items():
        # warm-up (normalisation caches, first-use imports)
        for text in texts[:200]:
            clf.classify(text)
            jieba.lcut(text)
        clf_rate = best_rate(clf.classify, texts, args.repeat)
        jieba_rate = best_rate(jieba.lcut, texts, args.repeat)
        avg = sum(map(len, texts)) / len(texts)
        print(
            f"{name:<16} {len(texts):>6} {avg:>9.0f} {clf_rate:>13,.0f} {jieba_rate:>13,.0f} "
            f"{clf_rate / jieba_rate:>6.2f}"
        )
    print(
        f"start-up (lexicon + jieba dictionary + first classify): {clf_start['seconds']:.2f} s, "
        f"RSS +{clf_start['rss_kib'] / 1024:.1f} MiB"
    )
    print(
        f"bare jieba start-up (dictionary + first lcut):            {jieba_start['seconds']:.2f} s, "
        f"RSS +{jieba_start['rss_kib'] / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
