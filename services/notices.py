"""Notices: what a use case must tell someone, as typed records (recipient, kind, ticket, parameters).

Use cases never write sentences. They return notices and store them in the outbox
(``services.outbox``) in the same transaction as the change that caused them; the front end
renders each one from the recipient's locale catalogue and a delivery worker sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    """Who a notice is for: a resident or a member of staff (by their row id)."""

    RESIDENT = "resident"
    STAFF = "staff"


class NoticeKind(StrEnum):
    """Every kind of message the desk sends on its own (not replies to the person acting)."""

    # to staff
    ASSIGNED = "assigned"  # a ticket card with buttons; params: header (assign | transfer | reassign)
    SUPERVISOR_WATCH = "supervisor_watch"  # urgent or major: a copy for the supervisor; params: why
    QUEUE = "queue"  # nobody in the team can take it: the supervisor (or managers) must assign
    TRANSFERRED_AWAY = "transferred_away"  # params: by, team, assignee
    RESIDENT_INFO = "resident_info"  # the resident added information; params: note
    STAFF_UNREACHABLE = "staff_unreachable"  # params: name
    RATING_REVIEW = "rating_review"  # params: rating, comment
    REOPENED_SUPERVISOR = "reopened_supervisor"  # params: rating, comment, assignee
    REOPENED_ASSIGNEE = "reopened_assignee"  # params: rating
    CALLBACK_COMMENT = "callback_comment"  # params: comment
    MAJOR_ALERT = "major_alert"  # params: ids, reasons
    RESPONSE_OVERDUE = "response_overdue"
    RESPONSE_OVERDUE_MANAGER = "response_overdue_manager"
    RESOLVE_REMINDER = "resolve_reminder"
    RESOLVE_OVERDUE = "resolve_overdue"
    PROGRESS_NUDGE = "progress_nudge"  # params: period (seconds)
    MONTHLY_REPORT = "monthly_report"  # params: month
    CLOSED_BY_HAND_STAFF = "closed_by_hand_staff"  # the assignee: params: by, reason
    INVALID_STAFF = "invalid_staff"  # the assignee: params: by, reason
    MAJOR_OWNER = "major_owner"  # the manager in charge of a major matter; params: ids
    MAJOR_REPLY_OVERDUE = "major_reply_overdue"  # the first reply to the resident is late
    MAJOR_RESOLVE_OVERDUE = "major_resolve_overdue"  # the major matter is not resolved in time
    EARLY_WARNING = "early_warning"  # 投诉预警 written by a manager; params: warning
    REPORT_DRAFT = "report_draft"  # the monthly report waits for review; params: month
    CLOSE_HELD = "close_held"  # not closed by the clock: a newer complaint on the same matter; params: newer, reason
    # cause analysis, corrective actions, handling plans (services.procedure)
    PLAN_SUBMITTED = "plan_submitted"  # the supervisor decides, with buttons; params: plan, by
    PLAN_APPROVED = "plan_approved"  # the assignee; params: plan, by
    PLAN_RETURNED = "plan_returned"  # the assignee; params: plan, by (the reason is on the plan)
    PLAN_OVERDUE = "plan_overdue"  # the supervisor (else managers): no plan by plan_by; params: returned
    PLAN_OVERDUE_MANAGER = "plan_overdue_manager"  # a second period later
    ACTION_ASSIGNED = "action_assigned"  # the owner of a corrective action; params: action, by
    ACTION_REMINDER = "action_reminder"  # the owner, before the due date; params: action
    ACTION_OVERDUE = "action_overdue"  # the owner's supervisor (else managers); params: action
    # to residents
    ACCEPTED = "accepted"  # params: staff
    NOTE = "note"  # params: note
    RESOLVED = "resolved"  # params: result, callback (when to expect it: days, part, date; absent = none)
    PROGRESS = "progress"
    CALLBACK_PROMPT = "callback_prompt"  # params: attempt
    CLOSED_BY_HAND = "closed_by_hand"  # params: reason, note
    INVALID = "invalid"  # params: reason, note (the explanation)
    MAJOR_REPLY = "major_reply"  # the manager's reply on a major matter; params: note
    COMPLEX = "complex"  # a Ⅲ ticket marked complex: the longer resolution time; params: days


@dataclass(frozen=True)
class Notice:
    """One message to one person about (usually) one ticket."""

    kind: NoticeKind
    audience: Audience
    recipient_id: int
    complaint_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


def to_staff(kind: NoticeKind, staff_id: int, complaint_id: int | None = None, **params: Any) -> Notice:
    return Notice(kind, Audience.STAFF, staff_id, complaint_id, params)


def to_resident(kind: NoticeKind, resident_id: int, complaint_id: int | None = None, **params: Any) -> Notice:
    return Notice(kind, Audience.RESIDENT, resident_id, complaint_id, params)
