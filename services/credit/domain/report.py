"""The firm's referral reports (DESIGN.md sticking point 9): a daily list of referrals and
a weekly summary — leads sent, accepted, rejected with reasons, meetings booked / held /
no-show, credited and amount. Pure: a function of each lead's facts and current decision
over an event-time window; no I/O here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from services.credit.domain.facts import LeadFacts


@dataclass(frozen=True)
class LeadStanding:
    """One lead of the firm: all its facts and its current credit decision."""

    facts: LeadFacts
    state: str
    amount: Decimal
    first_reason: str


class Referral(BaseModel):
    lead_id: UUID
    received_at: datetime
    channel: str
    state: str
    amount: str
    reason: str


class Report(BaseModel):
    firm_id: str
    start: date
    end: date  # exclusive
    leads_sent: int
    accepted: int
    rejected: int
    rejected_reasons: dict[str, int]
    meetings_booked: int
    meetings_held: int
    meetings_no_show: int
    credited: int
    amount: str
    referrals: list[Referral]


def week_of(day: date) -> date:
    """The Monday that starts the (ISO) week holding ``day``."""
    return day - timedelta(days=day.weekday())


def build_report(firm_id: str, leads: list[LeadStanding], start: date, days: int) -> Report:
    """Counts what happened in ``[start, start + days)`` in event time (UTC days): a
    lead counts as sent on the day it was received, a status or meeting outcome on the
    day it happened; credited and amount are the current decisions of the leads sent in
    the window, so a later fact (a return, a held meeting) updates an earlier report."""
    end = start + timedelta(days=days)
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end, time(), tzinfo=UTC)

    def inside(at: datetime) -> bool:
        return lo <= at < hi

    referrals: list[Referral] = []
    accepted = rejected = booked = held = no_show = credited = 0
    reasons: Counter[str] = Counter()
    amount = Decimal("0")
    for lead in sorted(leads, key=lambda s: str(s.facts.lead_id)):
        facts = lead.facts
        for status in facts.statuses:
            if not inside(status.occurred_at):
                continue
            if status.stage == "accepted":
                accepted += 1
            elif status.stage == "rejected":
                rejected += 1
                reasons[status.reason_code or "unspecified"] += 1
        for meeting in facts.meetings:
            if not inside(meeting.occurred_at):
                continue
            booked += meeting.status == "booked"
            held += meeting.status == "held"
            no_show += meeting.status == "no_show"
        received = facts.received
        if received is None or not inside(received.received_at):
            continue
        referrals.append(
            Referral(
                lead_id=facts.lead_id,
                received_at=received.received_at,
                channel=received.channel,
                state=lead.state,
                amount=f"{lead.amount:.2f}",
                reason=lead.first_reason,
            )
        )
        if lead.state == "credited":
            credited += 1
            amount += lead.amount
    referrals.sort(key=lambda r: (r.received_at, str(r.lead_id)))
    return Report(
        firm_id=firm_id,
        start=start,
        end=end,
        leads_sent=len(referrals),
        accepted=accepted,
        rejected=rejected,
        rejected_reasons=dict(sorted(reasons.items())),
        meetings_booked=booked,
        meetings_held=held,
        meetings_no_show=no_show,
        credited=credited,
        amount=f"{amount:.2f}",
        referrals=referrals,
    )
