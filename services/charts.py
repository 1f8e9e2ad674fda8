"""PNG charts of the monthly report (matplotlib, Agg backend); the caller gives every label.

A CJK font is required, or Chinese renders as empty boxes. Looked up in this order and
registered with matplotlib's font manager:
1. any ``*.otf`` / ``*.ttf`` / ``*.ttc`` under ``services/fonts/`` (an override, none shipped);
2. ``NotoSansCJKsc-Regular.otf`` from the ``mplfonts`` package (SIL Open Font License), which
   bundles the font file in its wheel; nothing is downloaded;
3. a system CJK font matplotlib already knows (Noto Sans CJK SC, WenQuanYi, Source Han Sans …).
``cjk_font()`` raises RuntimeError when none is found, instead of drawing boxes.
"""

from __future__ import annotations

import importlib.util
import threading
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.figure import Figure

FONT_DIR = Path(__file__).with_name("fonts")
SYSTEM_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                   "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei")
_lock = threading.Lock()
_family: str | None = None

BAR_COLOUR = "#3b6ea8"
LINE_COLOUR = "#c0504d"
RATING_KEYS = (0, 1, 2, 3, 4, 5)  # 0: "not solved"
RATING_COLOURS = ["#7f7f7f", "#c0504d", "#e07b39", "#e0b339", "#8cb84d", "#3f9b4a"]


def _candidate_files() -> list[Path]:
    files: list[Path] = []
    if FONT_DIR.is_dir():
        files += sorted(p for p in FONT_DIR.iterdir() if p.suffix.lower() in (".otf", ".ttf", ".ttc"))
    spec = importlib.util.find_spec("mplfonts")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location) / "fonts" / "NotoSansCJKsc-Regular.otf"
            if path.is_file():
                files.append(path)
    return files


def cjk_font() -> str:
    """The family name of a registered CJK font (registered once per process)."""
    global _family
    with _lock:
        if _family:
            return _family
        for path in _candidate_files():
            try:
                font_manager.fontManager.addfont(str(path))
                _family = font_manager.FontProperties(fname=str(path)).get_name()
                break
            except (OSError, RuntimeError, ValueError):
                continue
        else:
            known = {f.name for f in font_manager.fontManager.ttflist}
            _family = next((name for name in SYSTEM_FAMILIES if name in known), None)
        if not _family:
            raise RuntimeError("no CJK font found: install mplfonts (pip) or put a CJK font in services/fonts/")
        # Process-wide: every text of these charts (ticks are created lazily at draw time).
        matplotlib.rcParams["font.family"] = [_family, "DejaVu Sans"]
        matplotlib.rcParams["axes.unicode_minus"] = False
        return _family


def _figure(title: str):
    family = cjk_font()
    # The object API, not pyplot: no global figure registry, so charts can be drawn in a thread.
    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.subplots()
    ax.set_title(title, fontsize=14, fontfamily=family)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax, family


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # zlib level 1: a few percent larger than the default level, a third of the encoding time
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 1})
    return path


def _label_bars(ax, bars, values, family: str, suffix: str = "") -> None:
    top = max(values, default=0) or 1
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.01, f"{value}{suffix}",
                ha="center", va="bottom", fontsize=9, fontfamily=family)


def category_bar(counts: dict[str, int], path: Path, *, title: str, ylabel: str, empty: str) -> Path:
    """Complaints by category (bar); ``empty`` labels the lone bar of a month without tickets."""
    fig, ax, family = _figure(title)
    labels, values = list(counts) or [empty], list(counts.values()) or [0]
    bars = ax.bar(labels, values, color=BAR_COLOUR)
    _label_bars(ax, bars, values, family)
    ax.set_ylabel(ylabel, fontfamily=family)
    ax.set_ylim(0, max(max(values) * 1.15, 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    for tick in ax.get_xticklabels():
        tick.set_fontfamily(family)
        tick.set_rotation(20 if len(labels) > 5 else 0)
    return _save(fig, path)


def daily_line(days: list[tuple[date, int]], path: Path, *, title: str, xlabel: str, ylabel: str) -> Path:
    """Daily intake over the month (line), one point per local day."""
    fig, ax, family = _figure(title)
    xs = [d.day for d, _ in days]
    ys = [n for _, n in days]
    ax.plot(xs, ys, color=LINE_COLOUR, marker="o", markersize=3, linewidth=1.6)
    ax.fill_between(xs, ys, color=LINE_COLOUR, alpha=0.08)
    ax.set_xlabel(xlabel, fontfamily=family)
    ax.set_ylabel(ylabel, fontfamily=family)
    ax.set_xlim(1, max(xs, default=1) or 1)
    ax.set_ylim(0, max(max(ys, default=0) * 1.15, 1))
    ax.set_xticks([x for x in xs if x == 1 or x % 5 == 0])
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def rating_bar(ratings: dict[int, int], path: Path, *, title: str, labels: list[str], ylabel: str) -> Path:
    """Satisfaction distribution (bar): 问题未解决, 1..5 分 (``labels`` in RATING_KEYS order)."""
    fig, ax, family = _figure(title)
    values = [int(ratings.get(k, 0)) for k in RATING_KEYS]
    bars = ax.bar(labels, values, color=RATING_COLOURS)
    _label_bars(ax, bars, values, family)
    ax.set_ylabel(ylabel, fontfamily=family)
    ax.set_ylim(0, max(max(values) * 1.15, 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    for tick in ax.get_xticklabels():
        tick.set_fontfamily(family)
    return _save(fig, path)
