"""A lead's timeline across services, told from its events: one line per event in the
pipeline's order (event time, except that a credit decision reads after the routing it
followed: ``pipeline_order``), with the routing trace and the credit reasons under theirs,
and a header saying where the lead stands now (stage, owner, account, firm, credit).

Types this module has no sentence for (a newer service's event) still get a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

Data = Mapping[str, Any]

REJECTION_REASONS = {
    "wrong_owner": "sent to the wrong owner",
    "contact_left_company": "the contact no longer works there",
    "unreachable_contact": "the contact cannot be reached",
    "missing_information": "missing information",
    "not_icp": "not the ideal customer profile",
    "duplicate": "a duplicate",
    "other": "another reason",
}

# As the router's lifecycle moves a lead on a meeting report; a cancellation or the
# bad-meeting flag does not move it.
MEETING_STAGES = {
    "booked": "meeting_booked",
    "held": "meeting_held",
    "no_show": "no_show",
    "rescheduled_by_prospect": "rescheduled",
    "rescheduled_by_sales": "rescheduled",
}


@dataclass(frozen=True)
class Fact:
    """One logged event about the lead."""

    seq: int
    type: str
    source: str
    time: datetime
    data: Data


class Entry(BaseModel):
    seq: int
    time: datetime
    type: str
    service: str
    summary: str
    details: list[str]
    data: dict[str, Any]


class Credit(BaseModel):
    state: str
    amount: str
    currency: str
    revision: int


class Header(BaseModel):
    lead_id: UUID
    email: str | None = None
    name: str | None = None
    company: str | None = None
    channel: str | None = None
    campaign: str | None = None
    received_at: datetime | None = None
    stage: str = "unknown"
    stage_at: datetime | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    firm_id: str | None = None
    credit: Credit | None = None


class Timeline(BaseModel):
    lead: Header
    events: list[Entry]


def _s(data: Data, key: str, default: str = "?") -> str:
    value = data.get(key)
    return str(value) if value not in (None, "") else default


def _revision(data: Data, key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: Any) -> str:
    """An ISO timestamp as people read it (UTC, to the minute); anything else as given."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _via(d: Data) -> str:
    """The channel, and the source and campaign where they say more."""
    channel, source = _s(d, "channel"), d.get("source")
    said = [str(source)] if source and source != channel else []
    said += [f"campaign {d['campaign']}"] if d.get("campaign") else []
    return f"via {channel}" + (f" ({', '.join(said)})" if said else "")


def _received(d: Data) -> str:
    who = d.get("name") or d.get("email") or "someone"
    at = f" at {d['company']}" if d.get("company") else ""
    firm = f", submitted by firm {d['firm_id']}" if d.get("firm_id") else ""
    return f"Received {who} <{_s(d, 'email')}>{at} {_via(d)}{firm}."


def _duplicate(d: Data) -> str:
    return f"Submitted again {_via(d)}: kept as the same lead."


def _routed(d: Data) -> str:
    why = "" if d.get("reason") in (None, "received") else f", because {d['reason']}"
    return (
        f"Routed (revision {_s(d, 'revision')}, rule {_s(d, 'rule', 'none')}{why}): "
        f"{_s(d, 'explanation', 'no explanation')}"
    )


def _alert(d: Data) -> str:
    return (
        f"Nobody could take it: waits in queue {_s(d, 'queue')} ({_s(d, 'detail', 'no detail')})."
    )


def _status(d: Data) -> str:
    stage, actor = _s(d, "stage"), _s(d, "actor", "someone")
    comment = f" — “{d['comment']}”" if d.get("comment") else ""
    if stage == "rejected":
        code = str(d.get("reason_code") or "other")
        return f"Rejected by {actor}: {REJECTION_REASONS.get(code, code)}{comment}."
    if stage == "accepted":
        return f"Accepted by {actor}{comment}."
    return f"Moved to {stage.replace('_', ' ')} by {actor}{comment}."


def _meeting(d: Data) -> str:
    status = _s(d, "status").replace("_", " ")
    when = f" for {_when(d['scheduled_for'])}" if d.get("scheduled_for") else ""
    return f"Meeting {status}{when}, reported by {_s(d, 'reported_by')} (firm {_s(d, 'firm_id')})."


def _activity(d: Data) -> str:
    return f"Firm {_s(d, 'firm_id')} logged a {_s(d, 'kind')} with {_s(d, 'contact_email')}."


def _credit(d: Data) -> str:
    firm = d.get("firm_id") or "no firm"
    return (
        f"Credit revision {_s(d, 'revision')}: {_s(d, 'state').replace('_', ' ')}, "
        f"{_s(d, 'amount', '0')} {_s(d, 'currency', '')} for {firm}."
    ).replace(" .", ".")


def _sla(d: Data) -> str:
    minutes = f", {d['sla_minutes']} business minutes" if d.get("sla_minutes") else ""
    return f"{_s(d, 'sla_name', 'SLA')}{minutes}"


def _sla_reminder(d: Data) -> str:
    return f"SLA reminder to {_s(d, 'owner_id')}: accept by {_when(d.get('due_at'))} ({_sla(d)})."


def _sla_breached(d: Data) -> str:
    told = f"; manager {d['manager_id']} told" if d.get("manager_id") else "; no manager to tell"
    due = _when(d.get("due_at"))
    return f"SLA breached: {_s(d, 'owner_id')} did not accept by {due} ({_sla(d)}){told}."


def _reassigned(d: Data) -> str:
    to = d.get("to_owner_id") or f"queue {_s(d, 'queue', 'unassigned')}"
    rule = f", rule {d['rule']}" if d.get("rule") else ""
    return (
        f"Reassigned from {_s(d, 'from_owner_id')} to {to} after a second SLA "
        f"(revision {_s(d, 'to_revision')}{rule})."
    )


AUDITED = "leadflow.audit.entry"
"""An admin write that changed the lead (from the audit log, not an event): a timeline
line of its own, saying who did it."""

ACTIONS = {
    "dispute.upheld": "upheld the disputed credit decision",
    "dispute.overturned": "overturned the disputed credit decision",
}


def _audited(d: Data) -> str:
    action = _s(d, "action")
    said = ACTIONS.get(action, action)
    comment = (d.get("after") or {}).get("comment") if isinstance(d.get("after"), Mapping) else None
    line = f"{_s(d, 'actor')} {said}" + (f": {str(comment).strip()}" if comment else "")
    return line if line.endswith((".", "!", "?")) else f"{line}."


SUMMARIES: dict[str, Callable[[Data], str]] = {
    AUDITED: _audited,
    "leadflow.lead.received.v1": _received,
    "leadflow.lead.duplicate.v1": _duplicate,
    "leadflow.lead.routed.v1": _routed,
    "leadflow.routing.alert.v1": _alert,
    "leadflow.lead.status_changed.v1": _status,
    "leadflow.meeting.updated.v1": _meeting,
    "leadflow.activity.logged.v1": _activity,
    "leadflow.credit.decided.v1": _credit,
    "leadflow.lead.sla_reminder.v1": _sla_reminder,
    "leadflow.lead.sla_breached.v1": _sla_breached,
    "leadflow.lead.reassigned.v1": _reassigned,
}


PIPELINE_ORDER = {
    "leadflow.lead.received.v1": 0,
    "leadflow.lead.duplicate.v1": 0,
    "leadflow.lead.routed.v1": 1,
    "leadflow.routing.alert.v1": 1,
    "leadflow.credit.decided.v1": 2,
}
"""Which of the same instant's events happened first: intake, then router, then credit."""

ROUTED = "leadflow.lead.routed.v1"
CREDIT_DECIDED = "leadflow.credit.decided.v1"

Place = tuple[datetime, int, int, int]
"""Where an event is told: (time, pipeline step, stream position, 0); an event told right
after another takes that one's place with 1 for the last item."""


def summary(event_type: str, data: Data, source: str = "") -> str:
    """One human line for an event; a generic one for a type without a sentence."""
    tell = SUMMARIES.get(event_type)
    if tell is None:
        return f"{event_type} from {source.strip('/') or 'an unknown service'}."
    return tell(data)


def details(event_type: str, data: Data) -> list[str]:
    """The why under a line: each routing rule tried, or each credit reason."""
    if event_type == "leadflow.lead.routed.v1":
        return [
            f"{'✓' if step.get('matched') else '·'} {step.get('rule')}: {step.get('reason')}"
            for step in data.get("trace") or []
            if isinstance(step, Mapping)
        ]
    if event_type == "leadflow.credit.decided.v1":
        return [
            str(reason.get("sentence"))
            for reason in data.get("reasons") or []
            if isinstance(reason, Mapping)
        ]
    return []


def _stage(event_type: str, data: Data) -> str | None:
    """The stage an event moves the lead to, if it moves it."""
    if event_type == "leadflow.lead.received.v1":
        return "received"
    if event_type == "leadflow.lead.routed.v1":
        return "routed" if data.get("owner") else "unassigned"
    if event_type == "leadflow.lead.status_changed.v1" and data.get("stage"):
        return str(data["stage"])
    if event_type == "leadflow.meeting.updated.v1":
        return MEETING_STAGES.get(str(data.get("status")))
    return None


def _fold_header(header: Header, fact: Fact) -> None:
    d = fact.data
    stage = _stage(fact.type, d)
    if stage is not None:
        header.stage, header.stage_at = stage, fact.time
    if fact.type == "leadflow.lead.received.v1":
        header.email, header.name, header.company = d.get("email"), d.get("name"), d.get("company")
        header.channel, header.campaign = d.get("channel"), d.get("campaign")
        header.received_at = fact.time
        header.firm_id = header.firm_id or d.get("firm_id")
    elif fact.type == "leadflow.lead.routed.v1":
        owner, account = d.get("owner") or {}, d.get("account") or {}
        header.owner_id, header.owner_name = owner.get("owner_id"), owner.get("name")
        header.account_id, header.account_name = account.get("account_id"), account.get("name")
        firm = d.get("firm_assignment") or {}
        header.firm_id = firm.get("firm_id") or header.firm_id
    elif fact.type == "leadflow.credit.decided.v1":
        revision = _revision(d, "revision") or 0
        if header.credit is None or revision >= header.credit.revision:
            header.credit = Credit(
                state=str(d.get("state")),
                amount=str(d.get("amount") or "0"),
                currency=str(d.get("currency") or ""),
                revision=revision,
            )
            header.firm_id = d.get("firm_id") or header.firm_id


def pipeline_order(facts: Iterable[Fact]) -> list[Fact]:
    """The lead's events in the order the pipeline made them: event time, at the same
    instant intake then router then credit, then stream order; and a credit decision
    never before the routing revision it followed (its ``routing_revision``) nor before
    the credit revision it replaced.

    Credit dates a decision as of the lead's facts, not when it decided: revision 1 is
    dated at the lead's receipt, earlier than the routing decision it needed, and a
    revision that follows a re-routing may be dated at the rejection that caused it.
    Told by event time alone it would read before its routing. Such a decision is told
    right after the event it waited for; its ``time`` stays the time credit gave it.
    """
    told = list(facts)
    place: list[Place] = [(f.time, PIPELINE_ORDER.get(f.type, 0), f.seq, 0) for f in told]
    routings = {
        revision: place[i]
        for i, f in enumerate(told)
        if f.type == ROUTED and (revision := _revision(f.data, "revision")) is not None
    }
    credits = sorted(
        (revision, place[i], i)
        for i, f in enumerate(told)
        if f.type == CREDIT_DECIDED and (revision := _revision(f.data, "revision")) is not None
    )
    previous: Place | None = None
    for _, _, i in credits:
        routing = routings.get(_revision(told[i].data, "routing_revision") or -1)
        waited_for = [(*p[:3], p[3] + 1) for p in (routing, previous) if p is not None]
        place[i] = previous = max([place[i], *waited_for])
    return [told[i] for i in sorted(range(len(told)), key=place.__getitem__)]


def timeline(lead_id: UUID, facts: Iterable[Fact]) -> Timeline:
    """The lead's timeline in the pipeline's order (``pipeline_order``), with the header
    folded from it."""
    header = Header(lead_id=lead_id)
    entries: list[Entry] = []
    for fact in pipeline_order(facts):
        _fold_header(header, fact)
        entries.append(
            Entry(
                seq=fact.seq,
                time=fact.time,
                type=fact.type,
                service=fact.source.strip("/") or "unknown",
                summary=summary(fact.type, fact.data, fact.source),
                details=details(fact.type, fact.data),
                data=dict(fact.data),
            )
        )
    return Timeline(lead=header, events=entries)
