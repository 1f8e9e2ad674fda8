"""The month's figures for people: the /stats message (Telegram HTML) and the wording the monthly
report's workbook and charts are written in, both in the current locale (catalogue keys
``stats.*``, ``report.*``, ``month.label``)."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from bot.i18n import _
from bot.texts import category_label, joined, kind_label, severity_label, status_label
from services.stats import MonthStats, Rate, parse_month

MAX_MESSAGE = 4096


def month_label(month: str) -> str:
    """"2026年10月" / "2026-10" for a ``YYYY-MM`` month."""
    year, mon = parse_month(month)
    return _("month.label", year=year, month=mon)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def count_change(now: int, before: int) -> str:
    diff = now - before
    if diff == 0:
        return _("stats.unchanged")
    arrow = "↑" if diff > 0 else "↓"
    if before:
        return _("stats.count_change_pct", arrow=arrow, n=abs(diff), pct=f"{diff / before * 100:+.0f}%")
    return f"{arrow}{abs(diff)}"


def rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    diff = (now - before) * 100
    if abs(diff) < 0.05:
        return _("stats.unchanged")
    return _("stats.points_change", arrow="↑" if diff > 0 else "↓", value=f"{abs(diff):.1f}")


def _label(render, code: str) -> str:
    try:
        return render(code)
    except (ValueError, KeyError):
        return escape(code)


def render_stats_text(current: MonthStats, previous: MonthStats) -> str:
    """A compact summary for a phone, Telegram HTML, always < 4096 characters."""
    cur, prev = current, previous
    if cur.team_name:
        scope_name = escape(cur.team_name)
    else:
        scope_name = _("stats.scope_team") if cur.team_id is not None else _("stats.scope_all")
    lines = [_("stats.title", month=month_label(cur.month), scope=scope_name)]
    if cur.partial:
        as_of = cur.as_of.astimezone(ZoneInfo(cur.tz))
        lines.append(_("stats.as_of", time=f"{as_of:%m-%d %H:%M}", previous=month_label(prev.month)))
    else:
        lines.append(_("stats.against", previous=month_label(prev.month)))
    lines.append("")
    lines.append(_("stats.total", now=cur.total, before=prev.total, change=count_change(cur.total, prev.total)))
    if cur.major or prev.major:
        lines.append(_("stats.major", now=cur.major, before=prev.major))

    keys = list(cur.by_category) + [k for k in prev.by_category if k not in cur.by_category]
    if keys:
        lines.append(_("stats.by_category"))
        for key in keys[:12]:
            lines.append(_("stats.block_line", label=_label(category_label, key),
                           now=cur.by_category.get(key, 0), before=prev.by_category.get(key, 0)))
    sev = " · ".join(f"{_label(severity_label, k)} {v}" for k, v in list(cur.by_severity.items())[:6]) or "—"
    lines.append(_("stats.by_severity", items=sev))
    status = " · ".join(f"{_label(status_label, k)} {v}" for k, v in list(cur.by_status.items())[:10]) or "—"
    lines.append(_("stats.by_status", items=status))
    lines.append("")
    lines.append(_("stats.indicators"))

    def rate_line(title: str, a: Rate, b: Rate) -> None:
        change = rate_change(a.value, b.value)
        line = _("stats.rate_line", title=title, now=pct(a.value), numerator=a.numerator,
                 denominator=a.denominator, before=pct(b.value))
        lines.append(line + (_("stats.change_suffix", change=change) if change else ""))

    rate_line(_("stats.response"), cur.response, prev.response)
    rate_line(_("stats.resolution"), cur.resolution, prev.resolution)
    rate_line(_("stats.callback"), cur.callback, prev.callback)
    if cur.callback_unreachable or cur.callback_open or cur.callback_skipped:
        lines.append(_("stats.callback_detail", unreachable=cur.callback_unreachable, open=cur.callback_open,
                       skipped=cur.callback_skipped))

    def points(value: float | None) -> str:
        return "—" if value is None else _("stats.points", value=f"{value:.2f}")

    lines.append(_("stats.rating", now=points(cur.rating_average), count=cur.rating_count,
                   before=points(prev.rating_average)))
    rate_line(_("stats.satisfied"), cur.satisfied, prev.satisfied)
    if cur.ratings.get(0):
        lines.append(_("stats.not_solved", n=cur.ratings[0]))
    lines.append(_("stats.reopened", now=cur.reopened, before=prev.reopened))
    overdue = _("stats.overdue", now=cur.overdue_open, before=prev.overdue_open)
    if cur.overdue_numbers:
        shown = joined(escape(n) for n in cur.overdue_numbers)
        more = _("stats.and_more") if cur.overdue_open > len(cur.overdue_numbers) else ""
        overdue += f"\n　{shown}{more}"
    lines.append(overdue)
    text = "\n".join(lines)
    if len(text) >= MAX_MESSAGE:  # cannot happen with the caps above; keep the promise anyway
        text = text[:4000].rsplit("\n", 1)[0] + "\n…"
    return text



def render_more_figures(figures) -> str:
    """The figures of ``services.report_figures`` in a few lines for /stats: valid complaints by
    kind and channel, average resolution time by severity, reopen rate, majors and their owners."""
    kinds = " · ".join(f"{_label(kind_label, k)} {n}" for k, n in figures.by_kind.items()) or "—"
    channels = " · ".join(f"{_(f'web.channel.{k}')} {n}" for k, n in figures.by_channel.items()) or "—"
    hours = " · ".join(_("stats.more.hours_item", label=_label(severity_label, sev),
                         hours="—" if h is None else f"{h:.1f}", n=n)
                       for sev, (n, h) in figures.resolution_hours.items()) or "—"
    lines = [_("stats.more.kinds", items=kinds), _("stats.more.channels", items=channels),
             _("stats.more.hours", items=hours),
             _("stats.more.reopen", rate=pct(figures.reopen.value), numerator=figures.reopen.numerator,
               denominator=figures.reopen.denominator)]
    if figures.majors:
        owned = joined(_("stats.more.major_item", number=escape(m.number), owner=escape(m.owner or "—"))
                       for m in figures.majors[:5])
        lines.append(_("stats.more.majors", n=max(figures.major_count, len(figures.majors)), items=owned))
    return "\n".join(lines)
