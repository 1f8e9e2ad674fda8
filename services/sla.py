"""Service-level allowances per severity, as residents are told them (SPEC "Severity")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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
