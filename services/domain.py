"""Domain vocabulary shared by every service: categories, kinds, severities, statuses.

Values stored in the database are codes; what people read comes from the locale catalogues
(``bot.texts``: ``status.<code>``, ``severity.<code>``, ``category.<name>`` …).
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cache
from pathlib import Path


@cache
def _codes(table: str) -> dict[str, str]:
    with (Path(__file__).resolve().parent / "lexicon" / "domain.toml").open("rb") as handle:
        return tomllib.load(handle)[table]


# Complaint category (投诉分类) from the SPEC; the stored value is the Chinese name itself
# (services/lexicon/domain.toml), shared with the lexicon and the labelled data.
Category = StrEnum("Category", _codes("category"))
# What the resident wants: a complaint, an inquiry (no callback) or a suggestion.
Kind = StrEnum("Kind", _codes("kind"))


class Severity(StrEnum):
    """Severity level (分级); drives the SLA deadlines."""

    URGENT = "urgent"
    IMPORTANT = "important"
    GENERAL = "general"

    @property
    def label(self) -> str:
        """The name in the classifier's output (lexicon data); people read the catalogues' labels."""
        return _codes("severity_label")[self.value]


class Flag(StrEnum):
    """Special markers found by the classifier; they change routing or severity."""

    LAWSUIT = "lawsuit"  # threatens to sue
    MEDIA = "media"  # threatens media exposure
    GROUP = "group"  # several residents complain together
    STAFF_REPORT = "staff_report"  # 员工投诉: staff reporting staff, goes to HR
    CUSTOMER_REPORT = "customer_report"  # 客户举报: bribery/embezzlement, goes to audit


class Status(StrEnum):
    """Ticket statuses from the SPEC; every change is an event in the log."""

    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    INVALID = "invalid"
