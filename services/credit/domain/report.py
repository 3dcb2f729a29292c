"""The firm's referral reports (sticking point 9, docs/design.md): a daily list of
referrals and a weekly summary — touches logged, leads sent, accepted, rejected with
reasons (the feedback the firm needs to improve: each reason code, its count and what it
means), meetings booked / held / no-show, credited and amount. Pure: a function of each
lead's facts and current decision over an event-time window; no I/O here. Also its CSV
form."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from services.credit.domain.facts import LeadFacts, Touch


@dataclass(frozen=True)
class LeadStanding:
    """One lead of the firm: all its facts and its current credit decision."""

    facts: LeadFacts
    state: str
    amount: Decimal
    first_reason: str


# What each rejection code tells the firm (SP9: feedback on why leads were rejected).
REJECTION_MEANINGS = {
    "wrong_owner": "The lead reached the wrong owner (a routing problem, not the firm's).",
    "contact_left_company": "The contact no longer works there.",
    "unreachable_contact": "The contact could not be reached with the details given.",
    "missing_information": "The lead lacked information sales needed.",
    "not_icp": "The company is outside the ideal customer profile.",
    "duplicate": "The lead was already known.",
    "other": "Another reason, given in sales' comment.",
    "unspecified": "Sales gave no reason code.",
}


class Referral(BaseModel):
    lead_id: UUID
    received_at: datetime
    channel: str
    state: str
    amount: str
    rejection_reason: str | None  # sales' reason code, if the lead was rejected
    reason: str


class RejectionFeedback(BaseModel):
    reason_code: str
    count: int
    meaning: str


class Report(BaseModel):
    firm_id: str
    start: date
    end: date  # exclusive
    touches_logged: int
    accounts_touched: int
    leads_sent: int
    accepted: int
    rejected: int
    rejected_reasons: dict[str, int]
    rejection_feedback: list[RejectionFeedback]
    meetings_booked: int
    meetings_held: int
    meetings_no_show: int
    credited: int
    amount: str
    referrals: list[Referral]


def week_of(day: date) -> date:
    """The Monday that starts the (ISO) week holding ``day``."""
    return day - timedelta(days=day.weekday())


def build_report(
    firm_id: str,
    leads: list[LeadStanding],
    start: date,
    days: int,
    touches: Sequence[Touch] = (),
) -> Report:
    """Counts what happened in ``[start, start + days)`` in event time (UTC days): a
    lead counts as sent on the day it was received, a status or meeting outcome on the
    day it happened, a touch on the day it was made; credited and amount are the current
    decisions of the leads sent in the window, so a later fact (a return, a held meeting)
    updates an earlier report. ``touches`` are the firm's own."""
    end = start + timedelta(days=days)
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end, time(), tzinfo=UTC)

    def inside(at: datetime) -> bool:
        return lo <= at < hi

    referrals: list[Referral] = []
    accepted = rejected = booked = held = no_show = credited = 0
    reasons: Counter[str] = Counter()
    amount = Decimal("0")
    touched = [t for t in touches if t.firm_id == firm_id and inside(t.occurred_at)]
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
        rejections = sorted(
            (s for s in facts.statuses if s.stage == "rejected"), key=lambda s: s.occurred_at
        )
        referrals.append(
            Referral(
                lead_id=facts.lead_id,
                received_at=received.received_at,
                channel=received.channel,
                state=lead.state,
                amount=f"{lead.amount:.2f}",
                rejection_reason=(rejections[0].reason_code or "unspecified")
                if rejections
                else None,
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
        touches_logged=len(touched),
        accounts_touched=len({t.email_domain for t in touched}),
        leads_sent=len(referrals),
        accepted=accepted,
        rejected=rejected,
        rejected_reasons=dict(sorted(reasons.items())),
        rejection_feedback=[
            RejectionFeedback(
                reason_code=code, count=count, meaning=REJECTION_MEANINGS.get(code, code)
            )
            for code, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        ],
        meetings_booked=booked,
        meetings_held=held,
        meetings_no_show=no_show,
        credited=credited,
        amount=f"{amount:.2f}",
        referrals=referrals,
    )


SUMMARY = (
    "firm_id",
    "start",
    "end",
    "touches_logged",
    "accounts_touched",
    "leads_sent",
    "accepted",
    "rejected",
    "meetings_booked",
    "meetings_held",
    "meetings_no_show",
    "credited",
    "amount",
)
REFERRAL_COLUMNS = tuple(Referral.model_fields)


def report_csv(report: Report) -> str:
    """Two blocks: ``metric,value`` rows (the counts, then one ``rejected:<code>`` row per
    reason), a blank line, then one row per referral under its own header."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("metric", "value"))
    values = report.model_dump(mode="json")
    writer.writerows((name, values[name]) for name in SUMMARY)
    writer.writerows((f"rejected:{f.reason_code}", f.count) for f in report.rejection_feedback)
    writer.writerow(())
    writer.writerow(REFERRAL_COLUMNS)
    for referral in report.referrals:
        row = referral.model_dump(mode="json")
        writer.writerow(row[c] if row[c] is not None else "" for c in REFERRAL_COLUMNS)
    return out.getvalue()
