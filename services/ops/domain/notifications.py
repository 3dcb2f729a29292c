"""Notifications to people, the rules as plain data and pure functions: which events tell
whom what, when a message may go (the recipient's business hours; an SLA breach at once),
how many become one (a digest), and what the email and the Slack message say.

Who is told of what (``notices_for``):

===========================  ====================================================
event                        told
===========================  ====================================================
``lead.routed``              the new owner (a new lead, or one reassigned to them);
                             the previous owner when a rejection or an account's
                             hand-over moved it away from them
``lead.sla_reminder``        the owner: accept or reject it by the deadline
``lead.sla_breached``        the owner's manager (ops when there is none), at once
``lead.reassigned``          the owner it was taken from (the new owner hears of
                             it from the new ``lead.routed``)
``meeting.updated`` booked   the lead's owner: a meeting on their account
``credit.decided`` disputed  ops: a dispute opened (the state was not disputed)
``webhook.disabled``         ops: a webhook endpoint disabled after failing
``event.dead_lettered``      ops: a consumer gave up on an event (dead letter)
===========================  ====================================================

Every message carries the sentence that explains it (the routing decision's own
explanation, the SLA and its deadline, the dispute's reason) and a link to the lead's
timeline on the dashboard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.business_hours import BusinessCalendar, BusinessHours, add_business_minutes

Kind = Literal[
    "assigned",
    "moved_away",
    "sla_reminder",
    "sla_breached",
    "meeting_booked",
    "dispute_opened",
    "webhook_disabled",
    "dead_letter",
]
Channel = Literal["email", "slack"]
OPS = "ops"  # the recipient id of the people running Leadflow (addresses from settings)
UTC_ZONE = ZoneInfo("UTC")
URGENT: frozenset[str] = frozenset({"sla_breached"})  # never held, never folded
DIGEST_LISTED = 25  # items a digest lists; the rest are counted

ROUTED = "leadflow.lead.routed.v1"
REMINDER = "leadflow.lead.sla_reminder.v1"
BREACHED = "leadflow.lead.sla_breached.v1"
REASSIGNED = "leadflow.lead.reassigned.v1"
MEETING = "leadflow.meeting.updated.v1"
CREDIT = "leadflow.credit.decided.v1"
WEBHOOK_DISABLED = "leadflow.webhook.disabled.v1"
DEAD_LETTERED = "leadflow.event.dead_lettered.v1"
OWNER_UPDATED = "leadflow.owner.updated.v1"
RECEIVED = "leadflow.lead.received.v1"


@dataclass(frozen=True)
class Recipient:
    """Someone to tell: an owner as the directory last said (``owner.updated``), or ops."""

    recipient_id: str
    name: str
    email: str | None = None
    slack_webhook_url: str | None = None
    manager_id: str | None = None
    active: bool = True
    hours: BusinessCalendar | None = None  # None: no quiet hours
    timezone: ZoneInfo = UTC_ZONE

    def addresses(self) -> list[tuple[Channel, str]]:
        found: list[tuple[Channel, str]] = []
        if self.email:
            found.append(("email", self.email))
        if self.slack_webhook_url:
            found.append(("slack", self.slack_webhook_url))
        return found


def recipient_from_directory(data: Mapping[str, Any]) -> Recipient:
    """An owner from its ``owner.updated`` data; hours that do not parse are none (the
    owner is told at once rather than never)."""
    notify = data.get("notify") or {}
    hours: BusinessHours | None = None
    if data.get("business_hours"):
        try:
            hours = BusinessHours.model_validate(data["business_hours"])
        except ValidationError:
            hours = None
    hours = hours or BusinessHours()  # the router's default hours count for the owner too
    return Recipient(
        recipient_id=str(data["owner_id"]),
        name=str(data.get("name") or data["owner_id"]),
        email=notify.get("email"),
        slack_webhook_url=notify.get("slack_webhook_url"),
        manager_id=data.get("manager_id"),
        active=bool(data.get("active", True)),
        hours=hours.calendar(),
        timezone=ZoneInfo(hours.timezone),
    )


@dataclass(frozen=True)
class LeadSummary:
    """Who the lead is, from its ``lead.received``: the line a message names it by."""

    email: str | None = None
    name: str | None = None
    company: str | None = None

    def says(self, lead_id: UUID | None) -> str:
        who = self.name or self.email or (f"lead {lead_id}" if lead_id else "a lead")
        return f"{who} ({self.company})" if self.company else who


@dataclass(frozen=True)
class Routing:
    """A lead's latest routing decision: its owner, and the sentence that says why."""

    owner_id: str | None
    explanation: str


@dataclass(frozen=True)
class Context:
    """What the event log knows beyond the event itself, read once for a batch."""

    recipients: Mapping[str, Recipient] = field(default_factory=dict)
    leads: Mapping[UUID, LeadSummary] = field(default_factory=dict)
    # The latest routing of the leads an SLA event or a meeting is about: who owns the lead,
    # and the routing sentence each message about it carries.
    routings: Mapping[UUID, Routing] = field(default_factory=dict)
    previous_credit: Mapping[UUID, str] = field(default_factory=dict)  # by credit event id


@dataclass(frozen=True)
class Notice:
    """One thing to tell one recipient (before its channels)."""

    key: str  # the event id and what it tells: unique with the recipient
    event_id: UUID
    kind: Kind
    recipient_id: str
    lead_id: UUID | None
    title: str
    sentence: str
    occurred_at: datetime

    @property
    def urgent(self) -> bool:
        return self.kind in URGENT


@dataclass(frozen=True)
class Event:
    """An event of the log, as the rules need it."""

    event_id: UUID
    type: str
    time: datetime
    lead_id: UUID | None
    data: Mapping[str, Any]


def _name(context: Context, owner_id: str | None) -> str:
    if owner_id is None:
        return "nobody"
    found = context.recipients.get(owner_id)
    return found.name if found else owner_id


def _at(instant: str | None, recipient: Recipient | None) -> str:
    if not instant:
        return "?"
    zone = recipient.timezone if recipient else UTC_ZONE
    local = datetime.fromisoformat(instant).astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _notice(
    event: Event, kind: Kind, recipient: str | None, title: str, sentence: str
) -> list[Notice]:
    if recipient is None:
        return []
    key = f"{event.event_id}:{kind}"
    return [
        Notice(key, event.event_id, kind, recipient, event.lead_id, title, sentence, event.time)
    ]


def _routed(event: Event, context: Context, who: str) -> list[Notice]:
    data = event.data
    owner = (data.get("owner") or {}).get("owner_id")
    previous, reason = data.get("previous_owner_id"), data.get("reason", "received")
    explanation = str(data.get("explanation") or "")
    again = reason != "received" and previous not in (None, owner)
    title = f"Lead reassigned to you: {who}" if again else f"New lead: {who}"
    told = _notice(event, "assigned", owner, title, explanation)
    if again and reason != "sla_reassigned":  # that one's lead.reassigned tells them
        why = "you rejected it" if reason == "owner_rejected" else reason.replace("_", " ")
        title = f"Lead moved to {_name(context, owner)}: {who}"
        told += _notice(event, "moved_away", previous, title, f"{explanation} ({why})")
    return told


def _why(event: Event, context: Context) -> str:
    """The lead's routing sentence, after a space; nothing when the log has none."""
    routing = context.routings.get(event.lead_id) if event.lead_id else None
    return f" {routing.explanation}" if routing and routing.explanation else ""


def _reminder(event: Event, context: Context, who: str) -> list[Notice]:
    data, owner = event.data, event.data.get("owner_id")
    due = _at(data.get("due_at"), context.recipients.get(owner or ""))
    sentence = (
        f"The {data.get('sla_name')} SLA gives {data.get('sla_minutes')} business minutes "
        f"from routing; part of it is gone.{_why(event, context)}"
    )
    return _notice(
        event, "sla_reminder", owner, f"Reminder: accept or reject {who} by {due}", sentence
    )


def _breached(event: Event, context: Context, who: str) -> list[Notice]:
    data, manager = event.data, event.data.get("manager_id") or OPS
    due = _at(data.get("due_at"), context.recipients.get(manager))
    title = f"SLA breached: {_name(context, data.get('owner_id'))} has not taken {who}"
    sentence = (
        f"Not accepted or rejected within {data.get('sla_minutes')} business minutes "
        f"({data.get('sla_name')}, due {due}).{_why(event, context)}"
    )
    return _notice(event, "sla_breached", manager, title, sentence)


def _reassigned(event: Event, context: Context, who: str) -> list[Notice]:
    data, to = event.data, event.data.get("to_owner_id")
    where = _name(context, to) if to else f"queue {data.get('queue')}"
    by = f" by rule {data['rule']}." if data.get("rule") else "."
    sentence = f"Not accepted within a second {data.get('sla_name')} SLA; routed to {where}{by}"
    title = f"Lead taken back after the SLA: {who}"
    return _notice(event, "moved_away", data.get("from_owner_id"), title, sentence)


def _meeting(event: Event, context: Context, who: str) -> list[Notice]:
    data = event.data
    if data.get("status") != "booked" or event.lead_id is None:
        return []
    routing, when = context.routings.get(event.lead_id), data.get("scheduled_for")
    owner = routing.owner_id if routing else None
    at = f" for {_at(when, context.recipients.get(owner or ''))}." if when else "."
    booked = f"{data.get('firm_id')} booked a meeting with {data.get('contact_email')}{at}"
    sentence = booked + _why(event, context)
    return _notice(event, "meeting_booked", owner, f"Meeting booked: {who}", sentence)


def _credit(event: Event, context: Context, who: str) -> list[Notice]:
    data = event.data
    if data.get("state") != "disputed" or context.previous_credit.get(event.event_id) == "disputed":
        return []  # not disputed, or still disputed: not a new dispute
    reasons = data.get("reasons") or []
    sentence = reasons[-1]["sentence"] if reasons else "disputed"
    title = f"Dispute opened by {data.get('firm_id')}: {who}"
    return _notice(event, "dispute_opened", OPS, title, sentence)


def _webhook_disabled(event: Event, _context: Context, _who: str) -> list[Notice]:
    data = event.data
    whose = f" (firm {data['firm_id']})" if data.get("firm_id") else ""
    title = f"Webhook disabled: {data.get('url')}{whose}"
    return _notice(event, "webhook_disabled", OPS, title, str(data.get("reason") or ""))


def _dead_letter(event: Event, _context: Context, _who: str) -> list[Notice]:
    data = event.data
    what = data.get("dead_event_type") or "a message that does not parse"
    title = f"Dead letter: {data.get('consumer')} gave up on {what}"
    topic = data.get("from_topic")
    sentence = (
        f"{data.get('reason')}: {data.get('error')} ({topic} partition {data.get('partition')}"
        f" offset {data.get('offset')}; the copy is on {topic}.dlq)"
    )
    return _notice(event, "dead_letter", OPS, title, sentence)


_RULES: Mapping[str, Callable[[Event, Context, str], list[Notice]]] = {
    ROUTED: _routed,
    REMINDER: _reminder,
    BREACHED: _breached,
    REASSIGNED: _reassigned,
    MEETING: _meeting,
    CREDIT: _credit,
    WEBHOOK_DISABLED: _webhook_disabled,
    DEAD_LETTERED: _dead_letter,
}
TOLD_OF = frozenset(_RULES)
NEED_ROUTING = frozenset({REMINDER, BREACHED, MEETING})  # their messages name the routing
_MENTIONS = ("owner_id", "previous_owner_id", "manager_id", "from_owner_id", "to_owner_id")


def notices_for(event: Event, context: Context) -> list[Notice]:
    """Who this event tells what (the table in this module's docstring)."""
    rule = _RULES.get(event.type)
    if rule is None:
        return []
    lead = context.leads.get(event.lead_id, LeadSummary()) if event.lead_id else LeadSummary()
    return rule(event, context, lead.says(event.lead_id))


def mentioned(event: Event) -> set[str]:
    """The owners an event names (whose directory records its messages need)."""
    found = {event.data.get(k) for k in _MENTIONS} | {
        (event.data.get("owner") or {}).get("owner_id")
    }
    return {f for f in found if isinstance(f, str) and f}


def send_after(recipient: Recipient, notice: Notice, now: datetime) -> datetime:
    """When a message may go: at once for ops and for a breach; else when the recipient's
    business hours are open (now, inside them)."""
    if notice.urgent or recipient.hours is None:
        return now
    return add_business_minutes(recipient.hours, now, 0)


def paced_until(last_sent_at: datetime | None, now: datetime, every: timedelta) -> datetime | None:
    """None: a message may go to the recipient now; else when the next may (one message
    per recipient and channel per ``every``: what comes in between waits for a digest)."""
    if last_sent_at is None or every <= timedelta(0):
        return None
    until = last_sent_at + every
    return until if until > now else None


# --- the messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One notification of a message (a digest holds several)."""

    notification_id: int
    key: str
    kind: str
    lead_id: UUID | None
    title: str
    sentence: str


@dataclass(frozen=True)
class Message:
    items: Sequence[Item]
    link_base: str  # the dashboard's URL
    # The id the message was given when first sent (its retries and repeats keep it).
    assigned_id: str | None = None

    def link(self, item: Item) -> str:
        return f"{self.link_base}/#/leads/{item.lead_id}" if item.lead_id else self.link_base

    @property
    def subject(self) -> str:
        if len(self.items) == 1:
            return self.items[0].title
        return f"{len(self.items)} updates from Leadflow"

    @property
    def message_id(self) -> str:
        """The same for the same items, however often it is sent (a retry, a repeat after
        a restart): what a receiver drops a repeat by."""
        if self.assigned_id:
            return self.assigned_id
        return message_id_of(i.key for i in self.items)

    def text(self) -> str:
        listed = self.items[:DIGEST_LISTED]
        lines: list[str] = []
        for item in listed:
            lines += [item.title, f"  {item.sentence}", f"  {self.link(item)}", ""]
        if len(self.items) > len(listed):
            lines += [f"... and {len(self.items) - len(listed)} more: {self.link_base}", ""]
        return "\n".join(lines)


def message_id_of(keys: Iterable[str]) -> str:
    """A message's id from the notifications it carries."""
    digest = hashlib.sha256(",".join(keys).encode()).hexdigest()
    return f"<{digest[:32]}@leadflow>"


def email(message: Message, *, sender: str, to: str, at: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(at)
    mail["Subject"] = " ".join(message.subject.split())  # a lead's name is no header break
    mail["Message-ID"] = message.message_id
    # What a receiver (the chaos run's mail sink) reconciles by: the notifications carried.
    mail["X-Leadflow-Notifications"] = ", ".join(i.key for i in message.items)
    mail.set_content(message.text())
    return mail


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification's fallback) and blocks."""
    listed = message.items[:DIGEST_LISTED]
    blocks: list[dict[str, Any]] = []
    if len(message.items) > 1:
        blocks.append(
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}}
        )
    for item in listed:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{_mrkdwn(item.title)}*\n{_mrkdwn(item.sentence)}"[:3000],
                },
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Timeline"},
                    "url": message.link(item),
                },
            }
        )
    if len(message.items) > len(listed):
        more = f"... and {len(message.items) - len(listed)} more: <{message.link_base}|dashboard>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": message.subject, "blocks": blocks}
