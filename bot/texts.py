"""Formatting helpers for messages: labels of codes, times, contacts and snippets, all in the
current locale (the wording itself lives in locales/; see bot.i18n). HTML parse mode: anything
typed by people is escaped by the caller or here."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from html import escape
from zoneinfo import ZoneInfo

from bot.i18n import _, catalogues
from services.domain import Category, Kind, Severity, Status
from services.intake import mask_phone


def category_label(code: str) -> str:
    try:
        return _(f"category.{Category(code).name.lower()}")
    except ValueError:
        return escape(code)


def kind_label(code: str) -> str:
    try:
        return _(f"kind.{Kind(code).name.lower()}")
    except ValueError:
        return escape(code)


def severity_label(code: str) -> str:
    return _(f"severity.{Severity(code).value}")


def status_label(code: str) -> str:
    return _(f"status.{Status(code).value}")


def role_label(role: str) -> str:
    return _(f"role.{role}")


def rating_label(rating: int) -> str:
    """"5 非常满意" … "1 非常不满意", or "问题未解决" for 0 (the button texts)."""
    return _("rating.not_solved") if rating == 0 else f"{rating} {_(f'rating.{rating}')}"


def contact_line(*, anonymous: bool, name: str | None, phone: str | None, masked: bool = False) -> str:
    if anonymous:
        return _("contact.anonymous")
    shown = mask_phone(phone) if masked else (phone or "—")
    return f"{escape(name)} {shown}" if name else shown


def local_time(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def duration(value: timedelta | int) -> str:
    """A duration for people: "30 分钟", "4 小时", "3 天" in the current locale."""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return _(f"duration.{unit}", n=seconds // size)
    return _("duration.seconds", n=seconds)


def shorten(text: str, length: int) -> str:
    """Collapse whitespace and cut to ``length`` characters with an ellipsis (plain text)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def snippet(text: str, length: int = 24) -> str:
    return escape(shorten(text, length))


def error_text(error) -> str:
    """A DeskError in the current locale: ``error.<code>`` with its parameters (statuses as labels)."""
    params = dict(error.params)
    if "status" in params:
        params["status"] = status_label(params["status"])
    return _(f"error.{error.code}", **{k: escape(str(v)) if isinstance(v, str) else v for k, v in params.items()})


def budget(value) -> str:
    """One allowance of the SLA (services.worktime.Allowance) for people."""
    if value.working_days is not None:
        return _("duration.working_days", n=value.working_days)
    text = duration(value.amount or timedelta())
    return text if value.wall_clock else _("duration.working_time", duration=text)


def allowance(rule) -> str:
    """The resident's promise for a severity: respond within …, resolve within …."""
    return _("allowance", response=budget(rule.response), resolve=budget(rule.resolve))


def joined(items) -> str:
    """Items as a list in the current language ("电梯、坏了" / "lift, broken")."""
    return _("list_separator").join(str(item) for item in items)


def reason_text(*, category: str, severity: str, flags, keywords, max_terms: int = 5) -> str:
    """Why the classifier decided as it did: the category's words, then the words that raised the
    severity and those of each flag (``keywords``: hits with term, weight and target)."""
    hits = [(h["term"], h["weight"], h["target"]) if isinstance(h, dict) else (h.term, h.weight, h.target)
            for h in keywords]

    def terms(target: str, limit: int) -> list[str]:
        seen: list[str] = []
        for term, weight, hit_target in sorted(hits, key=lambda h: -h[1]):
            if hit_target == target and weight > 0 and term not in seen:
                seen.append(term)
        return seen[:limit]

    if not hits:
        return _("reason.none", category=category_label(Category.OTHER.value))
    found = terms(f"category:{category}", max_terms)
    if found:
        parts = [_("reason.category", category=category_label(category), terms=escape(in_script(joined(found))))]
    elif category == Category.OTHER.value:
        parts = [_("reason.other", category=category_label(category))]
    else:
        parts = [_("reason.category_only", category=category_label(category))]
    if severity in (Severity.URGENT.value, Severity.IMPORTANT.value):
        found = terms(f"severity:{severity}", 3)
        if found:
            parts.append(_("reason.severity", severity=severity_label(severity),
                           terms=escape(in_script(joined(found)))))
    for flag in sorted(str(f) for f in flags):
        found = terms(f"flag:{flag}", 3)
        label = _(f"flag.{flag}")
        parts.append(_("reason.flag", flag=label, terms=escape(in_script(joined(found)))) if found else label)
    return _("reason.separator").join(parts)


@cache
def _to_traditional():
    from opencc import OpenCC

    return OpenCC("s2tw")


def in_script(text: str) -> str:
    """Lexicon words (kept in Simplified characters) as the reader writes them: Traditional for zh_Hant."""
    return _to_traditional().convert(text) if catalogues().current_locale == "zh_Hant" else text


def team_label(team) -> str:
    """A team's name for people: a seeded team still under its default name reads in their language
    (``team.<code>``); a team an admin named reads as named."""
    from services.staff import DEFAULT_TEAMS

    if team is None:
        return "—"
    default = next((spec.name for spec in DEFAULT_TEAMS if spec.code == team.code), None)
    return _(f"team.{team.code}") if team.name == default else escape(team.name)
