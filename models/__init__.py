"""Database models, engine and sessions."""

from models.tables import (
    CallbackAttempt,
    CallbackRound,
    CategoryCorrection,
    Invite,
    Staff,
    Team,
    Complaint,
    ComplaintCreate,
    ComplaintEvent,
    FsmRecord,
    ReportRun,
    Resident,
    TicketCounter,
)

__all__ = ["CallbackAttempt", "CallbackRound", "CategoryCorrection", "Invite", "Staff", "Team", "Complaint", "ComplaintCreate", "ComplaintEvent", "FsmRecord", "ReportRun", "Resident", "TicketCounter"]
