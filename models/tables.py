"""SQLModel tables: residents, complaints, the append-only event log, counters and FSM state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, empty_dict, empty_list, utcnow


class ResidentBase(SQLModel):
    # None for residents registered at the console who do not use the bot (phone only)
    telegram_id: int | None = Field(default=None, sa_type=BigInteger, unique=True, index=True)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    name: str = Field(default="", max_length=128)
    username: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    language_code: str | None = Field(default=None, max_length=16)


class Resident(ResidentBase, table=True):
    """A person who talks to the bot (residents, and staff in their private chat too)."""

    id: int | None = Field(default=None, primary_key=True)
    locale: str | None = Field(default=None, max_length=8)  # chosen with /lang; else from language_code
    unreachable: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ComplaintBase(SQLModel):
    description: str = Field(sa_type=Text)
    location: str = Field(max_length=200)
    contact_name: str | None = Field(default=None, max_length=64)
    contact_phone: str | None = Field(default=None, max_length=32)
    anonymous: bool = Field(default=False)
    photos: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    # 投诉渠道: telegram | phone | visit | letter | app | wechat | other; registrar: the desk agent (登记人)
    channel: str = Field(default="telegram", max_length=16, sa_column_kwargs={"server_default": "telegram"})
    registrar_id: int | None = Field(default=None)


class ComplaintCreate(ComplaintBase):
    """What the intake dialogue hands to the service."""


class Complaint(ComplaintBase, table=True):
    """One matter, one ticket (一事一单)."""

    __table_args__ = (Index("ix_complaint_resident_created", "resident_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sensitive: bool = Field(default=False)  # 不便回访: staff say not to call back
    resolved_on_spot: bool = Field(default=False)  # resolved on the spot, satisfaction confirmed
    needs_review: bool = Field(default=False)  # a middling rating the supervisor should look at
    close_reason: str | None = Field(default=None, max_length=32)
    close_note: str | None = Field(default=None, sa_type=Text)  # closing by hand: the manager's note
    close_held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # not closed: same matter again
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the review of a middling rating
    reviewed_by_id: int | None = Field(default=None)
    review_note: str | None = Field(default=None, sa_type=Text)
    invalid_reason: str | None = Field(default=None, max_length=32)  # 无效投诉: a reason from the list
    invalid_note: str | None = Field(default=None, sa_type=Text)  # the explanation given to the resident
    complex: bool = Field(default=False)  # a Ⅲ ticket marked complex: longer resolution allowance
    sla_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # deadlines count from here (reopen)
    # Deadlines and upgrades (SLA clock, escalation, 重大投诉)
    major: bool = Field(default=False, index=True)
    major_reason: str | None = Field(default=None, max_length=64)
    related_to_id: int | None = Field(default=None, index=True)  # first ticket of the same matter
    # 重大投诉: the customer-service manager in charge, the first reply to the resident and the resolution due
    major_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    major_owner_id: int | None = Field(default=None, index=True)
    major_reply_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    major_resolve_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    major_replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    major_reply_level: int = Field(default=0)  # 1: the missed first reply was escalated
    major_resolve_level: int = Field(default=0)  # 1: the missed resolution was escalated
    pauses: list[list[str | None]] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    response_level: int = Field(default=0)  # 0 none, 1 supervisor warned, 2 manager warned
    resolve_level: int = Field(default=0)  # 0 none, 1 reminder to assignee, 2 overdue to supervisor
    last_progress_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    nudged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    respond_by: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolve_by: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    draft_key: str | None = Field(default=None, max_length=64, unique=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    category: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=8)
    severity: str = Field(max_length=16, index=True)
    status: str = Field(max_length=16, index=True)
    confidence: float = Field(default=0.0)
    runner_up: str | None = Field(default=None, max_length=16)  # the close second category, if any
    uncertain: bool = Field(default=False)  # the classifier's top two were close: staff should check
    keywords: list[dict] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    flags: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # retention: personal data gone
    # 原因分析: a cause category from services.procedure.CAUSES and its text (required to resolve Ⅰ/Ⅱ)
    cause_category: str | None = Field(default=None, max_length=16)
    cause_text: str | None = Field(default=None, sa_type=Text)
    # 处理方案: Ⅰ/Ⅱ tickets need a plan approved by the supervisor; due by plan_by (working time)
    plan_by: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    plan_status: str | None = Field(default=None, max_length=16)  # None | submitted | approved | returned
    plan_level: int = Field(default=0)  # 0 none, 1 supervisor warned, 2 manager warned (plan missing)


class CorrectiveAction(SQLModel, table=True):
    """整改/纠正预防措施: what will be changed so a cause of ours does not happen again; an owner and a due date."""

    __tablename__ = "corrective_action"
    __table_args__ = (Index("ix_corrective_action_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    description: str = Field(sa_type=Text)
    owner_id: int = Field(foreign_key="staff.id", index=True)
    created_by_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=16)  # open | done
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    done_by_id: int | None = Field(default=None)
    done_note: str | None = Field(default=None, sa_type=Text)  # what was done
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HandlingPlan(SQLModel, table=True):
    """处理方案 of a Ⅰ/Ⅱ ticket, submitted by the assignee and approved or returned by the supervisor."""

    __tablename__ = "handling_plan"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    text: str = Field(sa_type=Text)
    submitted_by_id: int = Field(foreign_key="staff.id")
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(default="submitted", max_length=16)  # submitted | approved | returned
    decided_by_id: int | None = Field(default=None)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    return_reason: str | None = Field(default=None, sa_type=Text)


class Team(SQLModel, table=True):
    """A team that handles some categories (工程, 环境, 安全, 客服) or a special desk (HR, audit)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64)
    categories: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    special: bool = Field(default=False)  # HR / audit desks: reached by flags, not categories
    # The supervisor is the team member with role "supervisor" (no circular foreign key).


class StaffBase(SQLModel):
    name: str = Field(max_length=64)
    role: str = Field(default="staff", max_length=16)  # staff | supervisor | manager | admin | desk
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)


class Staff(StaffBase, table=True):
    """A member of staff; bound to a Telegram account through a one-time invite."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int | None = Field(default=None, sa_type=BigInteger, unique=True, index=True)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    active: bool = Field(default=True)
    unreachable: bool = Field(default=False)
    last_assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    bound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Invite(SQLModel, table=True):
    """A one-time onboarding code; only its hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginLink(SQLModel, table=True):
    """A one-time console login link (``/web``, ``staff login``); only its hash is stored."""

    __tablename__ = "login_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A console session opened by a login link; the cookie holds the token, the table its hash."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A key of one integration (an app, a WeChat account, the hotline system) for /api/v1; hashed."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)  # the first characters, to tell keys apart in listings
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CategoryCorrection(SQLModel, table=True):
    """A staff correction of the detected category; the classifier can learn from these."""

    __tablename__ = "category_correction"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    text: str = Field(sa_type=Text)
    predicted: str = Field(max_length=16)
    corrected: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CallbackRound(SQLModel, table=True):
    """One satisfaction-callback round after a resolution: up to N attempts, one answer."""

    __tablename__ = "callback_round"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    round_no: int = Field(default=1)
    status: str = Field(default="open", max_length=16, index=True)  # open | answered | unreachable | skipped
    skip_reason: str | None = Field(default=None, max_length=32)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    rating: int | None = Field(default=None)  # 1..5; 0 = "not solved"
    comment: str | None = Field(default=None, sa_type=Text)


class CallbackAttempt(SQLModel, table=True):
    """One prompt of a round: due time, claim, delivery and outcome; the scheduler's source of truth."""

    __tablename__ = "callback_attempt"
    __table_args__ = (Index("ix_callback_attempt_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="callback_round.id", index=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    attempt_no: int = Field(default=1)
    due_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default="pending", max_length=16)  # pending | claimed | sent | answered | expired | failed
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slot: int | None = Field(default=None)  # index of the callback slot it went out in
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    message_id: int | None = Field(default=None)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failure: str | None = Field(default=None, max_length=200)
    method: str = Field(default="telegram", max_length=16)  # 方式: telegram | phone | visit | sms | survey
    caller_id: int | None = Field(default=None)  # 回访人: the staff member who called; None = the bot


class ReportRun(SQLModel, table=True):
    """Which monthly reports went out, so each month is sent once even across restarts."""

    __tablename__ = "report_run"

    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recipients: int = Field(default=0)
    # Review (经管理层审核后发送): draft → sent; the analysis summary goes on the first sheet
    status: str = Field(default="sent", max_length=16, sa_column_kwargs={"server_default": "sent"})
    summary: str | None = Field(default=None, sa_type=Text)
    approved_by_id: int | None = Field(default=None)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EarlyWarning(SQLModel, table=True):
    """投诉预警: a matter that may become major, what residents are told, and who was told."""

    __tablename__ = "early_warning"

    id: int | None = Field(default=None, primary_key=True)
    matter: str = Field(sa_type=Text)
    advice: str = Field(sa_type=Text)  # what to tell residents (对住户的解释口径)
    notified: str = Field(sa_type=Text)  # who was told (已通知)
    author_id: int = Field(foreign_key="staff.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    complaint_ids: list[int] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))


class OutboxNotice(SQLModel, table=True):
    """A notice waiting to be (or already) delivered: written in the transaction that caused it.

    The delivery worker claims pending rows with one conditional UPDATE, sends them and marks
    them sent, so a crash at any point loses nothing; at worst one message goes out twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    audience: str = Field(max_length=16)  # resident | staff
    recipient_id: int = Field()
    complaint_id: int | None = Field(default=None, index=True)
    params: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=16)  # pending | claimed | sent | failed
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    due_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    tries: int = Field(default=0)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=200)


class WebhookUpdate(SQLModel, table=True):
    """An update that came by webhook: claimed while it is handled, then done — a retry of it by
    Telegram (it timed out, or went to another process) is acknowledged and skipped."""

    __tablename__ = "webhook_update"

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    state: str = Field(default="handling", max_length=16)  # handling | done
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class PolledUpdate(SQLModel, table=True):
    """An update the poller holds, as Telegram sent it: kept from before the ``getUpdates`` that
    confirms it until it was handled (``bot.journal``); a restarted process handles these first."""

    __tablename__ = "polled_update"

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    body: str = Field(sa_type=Text)


class ComplaintEvent(SQLModel, table=True):
    """Append-only audit log: who did what to a ticket, when, from which status to which."""

    __tablename__ = "complaint_event"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=16)  # resident | staff | system
    actor_id: int | None = Field(default=None, sa_type=BigInteger)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, sa_type=Text)  # what a person typed (result, note, comment)
    data: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False, server_default="{}"))


@event.listens_for(ComplaintEvent, "before_update")
@event.listens_for(ComplaintEvent, "before_delete")
def _events_are_append_only(mapper, connection, target) -> None:
    raise PermissionError("complaint events are append-only")


class TicketCounter(SQLModel, table=True):
    """Last ticket sequence used per local day; incremented atomically."""

    __tablename__ = "ticket_counter"

    day: str = Field(primary_key=True, max_length=8)
    last: int = Field(default=0)


class FsmRecord(SQLModel, table=True):
    """Conversation state of one chat, so an intake survives a restart."""

    __tablename__ = "fsm_record"
    __table_args__ = (UniqueConstraint("key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)
    state: str | None = Field(default=None, max_length=255)
    data: dict = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
