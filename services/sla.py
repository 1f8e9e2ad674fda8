"""Deadlines per severity on the working-time clock (SPEC "Severity", "Working time").

Urgent tickets count wall-clock time; the others count working time (WORK_HOURS, weekends and
mainland-China holidays excluded, adjusted working days included). Pauses (waiting for the
resident) stop the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.domain import Severity
from services.worktime import Allowance as Budget
from services.worktime import WorkCalendar, due, elapsed

Pause = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class SeverityRule:
    """How long the desk has to respond and to resolve at one severity."""

    response: Budget
    resolve: Budget


@dataclass(frozen=True)
class SlaPolicy:
    """Rules for the three severities on one working calendar."""

    urgent: SeverityRule
    important: SeverityRule
    general: SeverityRule
    calendar: WorkCalendar
    remind_at: float = 0.8  # share of the resolution time after which the assignee is reminded
    general_complex: Budget | None = None  # resolution allowance of a Ⅲ ticket marked complex
    # 处理方案 allowances of Ⅰ and Ⅱ tickets (Ⅲ tickets need no plan)
    urgent_plan: Budget | None = None
    important_plan: Budget | None = None

    def plan_budget(self, severity: Severity | str) -> Budget | None:
        return {Severity.URGENT: self.urgent_plan, Severity.IMPORTANT: self.important_plan}.get(Severity(severity))

    def resolve_budget(self, severity: Severity | str, complex_: bool = False) -> Budget:
        rule = self.for_severity(severity)
        if complex_ and Severity(severity) is Severity.GENERAL and self.general_complex is not None:
            return self.general_complex
        return rule.resolve

    def for_severity(self, severity: Severity | str) -> SeverityRule:
        return {Severity.URGENT: self.urgent, Severity.IMPORTANT: self.important,
                Severity.GENERAL: self.general}[Severity(severity)]

    @classmethod
    def from_settings(cls, settings) -> SlaPolicy:
        """Build from ``Settings`` (duck-typed so services need not import the app)."""
        sla = settings.sla
        return cls(
            urgent=SeverityRule(Budget(amount=sla.urgent_response, wall_clock=True),
                                Budget(amount=sla.urgent_resolve, wall_clock=True)),
            important=SeverityRule(Budget(amount=sla.important_response),
                                   Budget(working_days=sla.important_resolve_days)),
            general=SeverityRule(Budget(amount=sla.general_response),
                                 Budget(working_days=sla.general_resolve_days)),
            calendar=WorkCalendar(settings.work_hours, settings.tz),
            remind_at=sla.remind_at,
            general_complex=Budget(working_days=sla.general_complex_resolve_days),
            urgent_plan=Budget(amount=sla.urgent_plan, wall_clock=True),
            important_plan=Budget(working_days=sla.important_plan_days),
        )


def parse_pauses(raw: Sequence[Sequence[str | None]]) -> list[Pause]:
    """Pauses as stored on the ticket (ISO strings) → datetimes."""
    return [(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None) for start, end in raw]


def deadlines(policy: SlaPolicy, severity: Severity | str, created_at: datetime, *,
              pauses: Sequence[Pause] = (), now: datetime | None = None,
              complex_: bool = False) -> tuple[datetime, datetime]:
    """(respond by, resolve by) for a ticket created (or reopened) at ``created_at`` with its pauses."""
    rule = policy.for_severity(severity)
    return (due(policy.calendar, created_at, rule.response, pauses=pauses, now=now),
            due(policy.calendar, created_at, policy.resolve_budget(severity, complex_), pauses=pauses, now=now))


def clock_start(complaint) -> datetime:
    """Where a ticket's deadlines count from: the filing, or the last reopen."""
    return complaint.sla_started_at or complaint.created_at


def ticket_deadlines(policy: SlaPolicy, complaint, now: datetime) -> tuple[datetime, datetime]:
    """(respond by, resolve by) of a ticket as it is: from its clock start, with its pauses and
    its complexity (pauses before the clock start are ignored)."""
    return deadlines(policy, complaint.severity, clock_start(complaint), pauses=parse_pauses(complaint.pauses),
                     now=now, complex_=bool(complaint.complex))


def plan_deadline(policy: SlaPolicy, complaint, now: datetime | None = None) -> datetime | None:
    """When a Ⅰ/Ⅱ ticket's handling plan is due (from its clock start, with its pauses); None for Ⅲ."""
    budget = policy.plan_budget(complaint.severity)
    if budget is None:
        return None
    return due(policy.calendar, clock_start(complaint), budget, pauses=parse_pauses(complaint.pauses or []), now=now)


def reminder_time(policy: SlaPolicy, severity: Severity | str, created_at: datetime, resolve_by: datetime) -> datetime:
    """When ``remind_at`` of the resolution time is used up (on the ticket's own clock)."""
    rule = policy.for_severity(severity)
    total = elapsed(policy.calendar, created_at, resolve_by, wall_clock=rule.resolve.wall_clock)
    budget = total * policy.remind_at
    if rule.resolve.wall_clock:
        return created_at + budget
    return policy.calendar.add(created_at, budget)
