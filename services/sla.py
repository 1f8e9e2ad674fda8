"""Service-level allowances per severity, as residents are told them (SPEC "Severity")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.domain import Severity
from services.durations import format_duration_zh


@dataclass(frozen=True)
class Allowance:
    """How long the desk has to respond and to resolve; days are working days unless wall-clock."""

    response: timedelta
    resolve: timedelta | None = None
    resolve_working_days: int | None = None

    def describe_zh(self) -> str:
        """One line for the resident: 我们将在…内响应，…内处理完毕。"""
        if self.resolve_working_days is not None:
            resolve = f"{self.resolve_working_days}个工作日"
        else:
            resolve = format_duration_zh(self.resolve or timedelta())
        return f"我们将在{format_duration_zh(self.response)}内响应，{resolve}内处理完毕。"


@dataclass(frozen=True)
class SlaPolicy:
    """Allowances for the three severities."""

    urgent: Allowance
    important: Allowance
    general: Allowance

    def for_severity(self, severity: Severity | str) -> Allowance:
        return {
            Severity.URGENT: self.urgent,
            Severity.IMPORTANT: self.important,
            Severity.GENERAL: self.general,
        }[Severity(severity)]

    @classmethod
    def from_settings(cls, sla) -> SlaPolicy:
        """Build from ``Settings.sla`` (duck-typed so services need not import the app)."""
        return cls(
            urgent=Allowance(response=sla.urgent_response, resolve=sla.urgent_resolve),
            important=Allowance(
                response=sla.important_response, resolve_working_days=sla.important_resolve_days
            ),
            general=Allowance(
                response=sla.general_response, resolve_working_days=sla.general_resolve_days
            ),
        )


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``days`` working days later, skipping weekends in local time.

    A first approximation: public holidays and working hours come with the SLA clock issue.
    """
    local = start.astimezone(tz)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local.astimezone(start.tzinfo)


def deadlines(policy: SlaPolicy, severity: Severity | str, created_at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(respond by, resolve by) for a ticket created at ``created_at``."""
    allowance = policy.for_severity(severity)
    respond_by = created_at + allowance.response
    if allowance.resolve_working_days is not None:
        resolve_by = add_working_days(created_at, allowance.resolve_working_days, tz)
    else:
        resolve_by = created_at + (allowance.resolve or timedelta())
    return respond_by, resolve_by
