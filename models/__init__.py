"""Database models, engine and sessions."""

from models.tables import (
    Complaint,
    ComplaintCreate,
    ComplaintEvent,
    FsmRecord,
    Resident,
    TicketCounter,
)

__all__ = ["Complaint", "ComplaintCreate", "ComplaintEvent", "FsmRecord", "Resident", "TicketCounter"]
