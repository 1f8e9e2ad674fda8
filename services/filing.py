"""Filing a complaint (one use case): merge a repeat from the same resident into their open ticket,
or number and store a new one, route it to a person and raise it to major when it threatens, is
collective, or several residents report the same matter — all in one transaction, so a crash
never leaves a ticket without its assignment ping (only its number is reserved before, in a
transaction of its own: a crash in between leaves a gap in the day's numbers, nothing else)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import writing
from models.tables import Complaint, ComplaintCreate, Resident
from services import lifecycle, majors, matters, numbering, outbox, routing, staff
from services.classify import Classification, Classifier, content_words
from services.lifecycle import Actor, record
from services.notices import Notice, NoticeKind, to_staff
from services.sla import SlaPolicy


@dataclass(frozen=True)
class MatterRules:
    window: timedelta = timedelta(days=30)
    residents: int = 3
    similarity: float = 0.3
    major: majors.MajorRules = majors.MajorRules()

    @classmethod
    def from_settings(cls, settings) -> MatterRules:
        return cls(settings.matter_window, settings.matter_residents, settings.matter_similarity,
                   majors.MajorRules.from_settings(settings))


@dataclass
class Filing:
    """The outcome: a new ticket, or the open ticket the report was merged into; majors raised."""

    complaint: Complaint
    merged: bool = False
    major_ids: list[int] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


async def file_complaint(session: AsyncSession, *, resident: Resident, data: ComplaintCreate,
                         classification: Classification, classifier: Classifier, draft_key: str, tz: ZoneInfo,
                         sla: SlaPolicy | None, rules: MatterRules, now: datetime) -> Filing:
    words = content_words(classifier, data.description)
    check = await matters.check(
        session, resident_id=resident.id, category=classification.category.value, location=data.location,
        words=words, now=now, window=rules.window, threshold=rules.similarity,
        tokens_of=lambda text: content_words(classifier, text), draft_key=draft_key)
    if check.submitted is not None:
        # The same submission again (a repeat after a crash before it was confirmed): the ticket
        # exists; nothing is stored twice, nor merged into itself.
        raise lifecycle.DuplicateSubmission(check.submitted)
    actor = Actor.of_resident(resident)
    # A new ticket's number first, in a transaction of its own: the day's counter is not held
    # while the rest of the filing runs (concurrent filings would queue behind it).
    number = (await numbering.reserve_ticket_number(session, now=now, tz=tz)
              if check.merge_into is None else None)
    async with writing(session):
        if check.merge_into is not None:
            existing = await session.get(Complaint, check.merge_into.id, populate_existing=True)
            record(session, existing.id, "merged", actor=actor, now=now, note=data.description[:1000])
            notices = ([to_staff(NoticeKind.RESIDENT_INFO, existing.assignee_id, existing.id,
                                 note=data.description[:1000])] if existing.assignee_id else [])
            outbox.put(session, notices, now)
            await session.commit()
            return Filing(complaint=existing, merged=True, notices=notices)

        # The team and the person first (the team from the kept team table, the person under the
        # team's routing lock, held to the commit), so the row is stored assigned: no UPDATE after.
        team = await staff.routing_team(session, classification.category.value,
                                        [flag.value for flag in classification.flags])
        residents = {c.resident_id for c in check.same_matter} | {resident.id}
        same_matter = len(residents) >= rules.residents  # it becomes major with the others below
        if number is None:  # SQLite: numbered inside this transaction (numbering.reserve_ticket_number)
            number = await numbering.next_ticket_number(session, now=now, tz=tz)
        complaint = lifecycle.new_complaint(resident=resident, data=data, classification=classification,
                                            draft_key=draft_key, number=number, now=now, sla=sla, team_id=team.id)
        plan = await routing.choose_route(session, complaint, team=team, major=same_matter)
        await lifecycle.store_complaint(session, complaint, resident=resident, data=data, now=now,
                                        assignee_id=plan.assignee.id if plan.assignee is not None else None)
        filing = Filing(complaint=complaint)
        # Nothing below reads the rows it adds (audit events, notices) or the ticket's own pending
        # changes back from the database: they are flushed together at the commit — the events
        # and the notices one multi-row INSERT each instead of one INSERT per row.
        with session.no_autoflush, routing.remembering_managers(session):
            filing.notices = await routing.assign(session, complaint, plan, actor=Actor.system(), now=now,
                                                  stored_so=True)
            reasons = [flag for flag in complaint.flags if flag in matters.MAJOR_FLAGS]
            if reasons:
                filing.major_ids = await matters.mark_major(session, [complaint], {"flags": reasons}, now)
            if same_matter:
                group = [*check.same_matter, complaint]
                root = min(c.related_to_id or c.id for c in group)
                reason = {"residents": len(residents), "days": rules.window.days}
                filing.major_ids += await matters.mark_major(session, group, reason, now, related_to=root)
            if filing.major_ids:
                filing.notices += await matters.major_notices(session, filing.major_ids)
                filing.notices += await majors.take_charge(session, filing.major_ids, now, rules.major,
                                                           sla.calendar if sla is not None else None)
            outbox.put(session, filing.notices, now)
        await session.commit()
    return filing
