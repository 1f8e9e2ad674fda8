"""Database models, engine and sessions."""

from models.tables import (
    CategoryCorrection,
    Invite,
    Staff,
    Team,
    Complaint,
    ComplaintCreate,
    ComplaintEvent,
    FsmRecord,
    Resident,
    TicketCounter,
)

__all__ = ["CategoryCorrection", "Invite", "Staff", "Team", "Complaint", "ComplaintCreate", "ComplaintEvent", "FsmRecord", "Resident", "TicketCounter"]
