"""The other outside facts intake takes in: firms' touches (activities), meetings and
their outcomes, and sales' acceptance or rejection of a lead. Each is stored and
published in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import activities, meetings
from shared.events.activities import ActivityKind, ActivityLogged, MeetingStatus, MeetingUpdated
from shared.events.envelope import utcnow
from shared.events.status import LeadStage, LeadStatusChanged, RejectionReason
from shared.outbox import Outbox


async def log_activity(
    session: AsyncSession,
    outbox: Outbox,
    *,
    firm_id: str,
    kind: ActivityKind,
    occurred_at: datetime,
    contact_email: str,
    email_domain: str,
    lead_id: UUID | None,
    notes: str | None,
    raw: dict[str, Any],
) -> UUID:
    """Inside an open transaction. ``occurred_at`` is event time (sticking point 3: a touch
    logged late still counts from when it happened)."""
    activity_id = uuid4()
    logged_at = utcnow()
    await session.execute(
        insert(activities).values(
            id=activity_id,
            firm_id=firm_id,
            kind=kind,
            occurred_at=occurred_at,
            logged_at=logged_at,
            contact_email=contact_email,
            email_domain=email_domain,
            lead_id=lead_id,
            notes=notes,
            raw=raw,
        )
    )
    await outbox.add(
        session,
        ActivityLogged(
            activity_id=activity_id,
            firm_id=firm_id,
            kind=kind,
            occurred_at=occurred_at,
            logged_at=logged_at,
            contact_email=contact_email,
            email_domain=email_domain,
            lead_id=lead_id,
            notes=notes,
        ),
    )
    return activity_id


async def book_meeting(
    session: AsyncSession,
    outbox: Outbox,
    *,
    firm_id: str,
    contact_email: str,
    email_domain: str,
    lead_id: UUID | None,
    status: MeetingStatus,
    scheduled_for: datetime | None,
    occurred_at: datetime | None,
    comment: str | None,
    actor: str | None = None,
) -> UUID:
    """A meeting booked by the firm. ``occurred_at``: when it was booked (default now)."""
    meeting_id = uuid4()
    now = utcnow()
    async with session.begin():
        await session.execute(
            insert(meetings).values(
                id=meeting_id,
                firm_id=firm_id,
                lead_id=lead_id,
                contact_email=contact_email,
                email_domain=email_domain,
                status=status,
                scheduled_for=scheduled_for,
                updated_at=now,
                history=[{"status": status, "by": "firm", "at": now.isoformat(), "actor": actor}],
            )
        )
        await outbox.add(
            session,
            MeetingUpdated(
                meeting_id=meeting_id,
                firm_id=firm_id,
                lead_id=lead_id,
                contact_email=contact_email,
                email_domain=email_domain,
                status=status,
                scheduled_for=scheduled_for,
                occurred_at=occurred_at or now,
                reported_at=now,
                reported_by="firm",
                comment=comment,
                actor=actor,
            ),
        )
    return meeting_id


async def get_meeting(session: AsyncSession, meeting_id: UUID, firm_id: str | None) -> Any:
    """A meeting (only the firm's own when ``firm_id`` is given: another's is not found)."""
    query = select(meetings).where(meetings.c.id == meeting_id)
    if firm_id is not None:
        query = query.where(meetings.c.firm_id == firm_id)
    return (await session.execute(query)).first()


async def update_meeting(
    session: AsyncSession,
    outbox: Outbox,
    *,
    meeting_id: UUID,
    firm_id: str | None,
    status: MeetingStatus,
    scheduled_for: datetime | None,
    occurred_at: datetime | None,
    comment: str | None,
    reported_by: Literal["firm", "sales", "ops"],
    actor: str | None = None,
) -> Any:
    """A change to a meeting, by the firm (``firm_id`` set: its own meetings only) or by
    sales/ops (sticking points 6-8: reschedules, no-shows, bad meetings). None when not
    found."""
    now = utcnow()
    async with session.begin():
        query = select(meetings).where(meetings.c.id == meeting_id).with_for_update()
        if firm_id is not None:
            query = query.where(meetings.c.firm_id == firm_id)
        row = (await session.execute(query)).first()
        if row is None:
            return None
        history = [
            *row.history,
            {
                "status": status,
                "by": reported_by,
                "at": now.isoformat(),
                "comment": comment,
                "actor": actor,
            },
        ]
        values: dict[str, Any] = {"status": status, "updated_at": now, "history": history}
        if scheduled_for is not None:
            values["scheduled_for"] = scheduled_for
        await session.execute(update(meetings).where(meetings.c.id == meeting_id).values(**values))
        await outbox.add(
            session,
            MeetingUpdated(
                meeting_id=meeting_id,
                firm_id=row.firm_id,
                lead_id=row.lead_id,
                contact_email=row.contact_email,
                email_domain=row.email_domain,
                status=status,
                scheduled_for=scheduled_for or row.scheduled_for,
                occurred_at=occurred_at or now,
                reported_at=now,
                reported_by=reported_by,
                comment=comment,
                actor=actor,
            ),
        )
    return (await session.execute(select(meetings).where(meetings.c.id == meeting_id))).first()


async def change_lead_status(
    session: AsyncSession,
    outbox: Outbox,
    *,
    lead_id: UUID,
    stage: LeadStage,
    reason_code: RejectionReason | None,
    comment: str | None,
    actor: str,
    occurred_at: datetime | None = None,
) -> None:
    """Inside an open transaction: an outside system moved a lead (a marketing tool's
    webhook marks it qualified). Sales' own moves go through the router's stage API."""
    await outbox.add(
        session,
        LeadStatusChanged(
            lead_id=lead_id,
            stage=stage,
            reason_code=reason_code,
            comment=comment,
            actor=actor,
            occurred_at=occurred_at or utcnow(),
        ),
    )
