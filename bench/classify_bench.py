"""Throughput, start-up time and memory of the complaint classifier (``services.classify``).

Run: ``python -m bench.classify_bench [--dev PATH] [--lines N] [--repeat R]``

Prints, for three workloads,

* *dev-like lines*: the labelled dev file's messages (title, full stop, detail) repeated to
  ``--lines`` lines (default 3000);
* *chat messages*: short chat-length messages (the first clause or two of each dev message, cut
  to at most 40 characters, plus the hand-written ones of ``bench/chat_messages.txt``), repeated
  likewise;
* *resident chat*: the hand-written phone-style messages of
  ``tests/services/data/chat_messages*.tsv`` (5–40 characters), repeated likewise;

the texts per second of the bot's classifier (``get_classifier().classify``: the lexicon and the
learned model) and of bare ``jieba.lcut``
(default dictionary, HMM on, jieba already initialised) on the same texts, and the ratio
classifier / bare jieba (goal ≥ 0.8).  Rates are the best of ``--repeat`` runs in process CPU
time; within a run the classifier and jieba take turns every 100 texts, and the ratio shown is
the median over the runs of the paired ratio, so that a busy machine slows both sides alike.

Start-up = time to load the lexicon, the model, jieba's dictionary and classify the first message,
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

CHAT_MESSAGES_FILE = Path(__file__).resolve().parent / "chat_messages.txt"  # hand-written, one per line


def hand_written_chat() -> list[str]:
    return [line.strip() for line in CHAT_MESSAGES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


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
                texts.append(cols[3] + chr(0x3002) + cols[4])  # ideographic full stop
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
    out = hand_written_chat()
    for text in dev_texts:
        clauses = [c for c in re.split(r"(?<=[\u3002\uff01\uff1f!?\uff0c,])", text) if c.strip()]
        short = "".join(clauses[:2])[:40]
        if short:
            out.append(short)
    return out


def repeat_to(texts: list[str], n: int) -> list[str]:
    if not texts:
        return []
    return [texts[i % len(texts)] for i in range(n)]


def paired_rates(fns: list, texts: list[str], repeat: int, chunk: int = 100) -> tuple[list[float], float]:
    """Texts per second of each function (the best of ``repeat`` runs, in process CPU time) and
    the median over the runs of the ratio first / second function.

    Within a run the functions take turns every ``chunk`` texts, so that a busy machine (load
    from other processes comes in bursts) slows both sides of a ratio alike; the median ratio of
    such paired runs is much steadier than the ratio of two separately measured best rates.
    """
    best = [float("inf")] * len(fns)
    ratios = []
    for _ in range(repeat):
        spent = [0.0] * len(fns)
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            for k, fn in enumerate(fns):
                t0 = time.process_time()
                for text in part:
                    fn(text)
                spent[k] += time.process_time() - t0
        best = [min(b, x) for b, x in zip(best, spent)]
        if spent[0] > 0:
            ratios.append(spent[1] / spent[0])
    ratios.sort()
    median = ratios[len(ratios) // 2] if ratios else float("nan")
    return [len(texts) / b if b > 0 else float("inf") for b in best], median


# -- start-up, measured in a child process -------------------------------------------------------


def _startup_child(what: str) -> None:
    rss0 = _rss_kib()
    t0 = time.perf_counter()
    first = hand_written_chat()[0]
    if what == "classifier":
        from services.classify import get_classifier

        clf = get_classifier()  # as the bot: lexicon + learned model
        clf.classify(first)
    else:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.lcut(first)
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
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (best rate, median ratio)")
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

    from services.classify import get_classifier

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    clf = get_classifier()  # as the bot: lexicon + learned model (CLASSIFIER_MODEL_PATH)

    dev = load_dev_texts(args.dev)
    workloads = {
        "dev-like lines": repeat_to(dev, args.lines),
        "chat messages": repeat_to(chat_texts(dev), args.lines),
    }
    resident = resident_chat_texts()
    if resident:
        workloads["resident chat"] = repeat_to(resident, args.lines)
    model = clf.model
    used = f"model revision {model.revision} ({model.path.name})" if model and model.path else "no model"
    print(f"classifier benchmark  (python {sys.version.split()[0]}, lexicon {clf.lexicon.path.name}, {used})")
    print(f"{'workload':<16} {'lines':>6} {'avg chars':>9} {'classifier/s':>13} {'jieba.lcut/s':>13} {'ratio':>6}")
    for name, texts in workloads.items():
        # warm-up (normalisation caches, first-use imports)
        for text in texts[:200]:
            clf.classify(text)
            jieba.lcut(text)
        (clf_rate, jieba_rate), ratio = paired_rates([clf.classify, jieba.lcut], texts, args.repeat)
        avg = sum(map(len, texts)) / len(texts)
        print(
            f"{name:<16} {len(texts):>6} {avg:>9.0f} {clf_rate:>13,.0f} {jieba_rate:>13,.0f} "
            f"{ratio:>6.2f}"
        )
    print(
        f"start-up (lexicon + model + jieba dictionary + first classify): {clf_start['seconds']:.2f} s, "
        f"RSS +{clf_start['rss_kib'] / 1024:.1f} MiB"
    )
    print(
        f"bare jieba start-up (dictionary + first lcut):                    {jieba_start['seconds']:.2f} s, "
        f"RSS +{jieba_start['rss_kib'] / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
