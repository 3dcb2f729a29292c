"""The notification rules, pure: who each event tells what, when a message may go, the
pace of digests, and what the email and the Slack message say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from services.ops.domain.notifications import (
    BREACHED,
    CREDIT,
    DEAD_LETTERED,
    DIGEST_LISTED,
    MEETING,
    OPS,
    REASSIGNED,
    REMINDER,
    ROUTED,
    WEBHOOK_DISABLED,
    Context,
    Event,
    Item,
    LeadSummary,
    Message,
    Notice,
    Recipient,
    Routing,
    email,
    mentioned,
    notices_for,
    paced_until,
    recipient_from_directory,
    send_after,
    slack,
)

MONDAY_NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)  # a Monday
LEAD = uuid4()
DANA = recipient_from_directory(
    {
        "owner_id": "dana",
        "name": "Dana Ortiz",
        "notify": {"email": "dana@example.com"},
        "manager_id": "mia",
        "business_hours": {"timezone": "America/New_York", "country": "US"},
    }
)
CONTEXT = Context(
    recipients={
        "dana": DANA,
        "lee": Recipient("lee", "Lee Chen", email="lee@example.com"),
        "mia": Recipient("mia", "Mia Wong", email="mia@example.com"),
    },
    leads={LEAD: LeadSummary("jordan@walmart.com", "Jordan Lee", "Walmart Inc.")},
    routings={LEAD: Routing("dana", "Routed to Dana Ortiz (AE): the account's owner.")},
)


def event(type_: str, **data: Any) -> Event:
    return Event(uuid4(), type_, MONDAY_NOON, LEAD, {"lead_id": str(LEAD), **data})


def routed(owner: str, **more: Any) -> Event:
    return event(ROUTED, owner={"owner_id": owner}, explanation=f"Routed to {owner}.", **more)


def told(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return [(n.kind, n.recipient_id, n.title) for n in notices]


def test_a_new_lead_tells_its_owner_with_the_routing_sentence() -> None:
    (notice,) = notices_for(routed("dana"), CONTEXT)
    assert (notice.kind, notice.recipient_id) == ("assigned", "dana")
    assert notice.title == "New lead: Jordan Lee (Walmart Inc.)"
    assert notice.sentence == "Routed to dana."
    assert not notice.urgent


def test_a_rejection_or_hand_over_tells_the_new_owner_and_the_old_one() -> None:
    moved = notices_for(routed("lee", reason="owner_rejected", previous_owner_id="dana"), CONTEXT)
    assert told(moved) == [
        ("assigned", "lee", "Lead reassigned to you: Jordan Lee (Walmart Inc.)"),
        ("moved_away", "dana", "Lead moved to Lee Chen: Jordan Lee (Walmart Inc.)"),
    ]
    assert moved[1].sentence.endswith("(you rejected it)")
    handed = notices_for(routed("lee", reason="account_changed", previous_owner_id="dana"), CONTEXT)
    assert handed[1].sentence.endswith("(account changed)")


def test_an_sla_reassignment_tells_the_old_owner_once_through_its_own_event() -> None:
    again = routed("lee", reason="sla_reassigned", previous_owner_id="dana")
    assert told(notices_for(again, CONTEXT)) == [
        ("assigned", "lee", "Lead reassigned to you: Jordan Lee (Walmart Inc.)")
    ]
    taken = event(REASSIGNED, from_owner_id="dana", to_owner_id="lee", sla_name="4h", rule="rr")
    (notice,) = notices_for(taken, CONTEXT)
    assert (notice.kind, notice.recipient_id) == ("moved_away", "dana")
    assert notice.sentence == "Not accepted within a second 4h SLA; routed to Lee Chen by rule rr."


def test_a_reminder_names_the_deadline_in_the_owners_own_time_zone() -> None:
    reminder = event(
        REMINDER, owner_id="dana", due_at="2026-11-30T20:00:00+00:00", sla_name="accept-4h",
        sla_minutes=240,
    )  # fmt: skip
    (notice,) = notices_for(reminder, CONTEXT)
    assert (
        notice.title
        == "Reminder: accept or reject Jordan Lee (Walmart Inc.) by Mon 30 Nov 15:00 EST"
    )


def test_a_breach_goes_to_the_manager_at_once_or_to_ops_when_there_is_none() -> None:
    breach = event(BREACHED, owner_id="dana", manager_id="mia", sla_minutes=240, sla_name="4h")
    (notice,) = notices_for(breach, CONTEXT)
    assert (notice.kind, notice.recipient_id, notice.urgent) == ("sla_breached", "mia", True)
    assert notice.title == "SLA breached: Dana Ortiz has not taken Jordan Lee (Walmart Inc.)"
    orphan = event(BREACHED, owner_id="dana", manager_id=None, sla_minutes=240, sla_name="4h")
    assert notices_for(orphan, CONTEXT)[0].recipient_id == OPS


def test_a_booked_meeting_tells_the_leads_owner_other_statuses_nobody() -> None:
    booked = event(MEETING, status="booked", firm_id="acme", contact_email="j@walmart.com")
    (notice,) = notices_for(booked, CONTEXT)
    assert (notice.kind, notice.recipient_id) == ("meeting_booked", "dana")
    assert notice.sentence == (
        "acme booked a meeting with j@walmart.com. Routed to Dana Ortiz (AE): the account's owner."
    )
    assert notices_for(event(MEETING, status="held"), CONTEXT) == []


def test_ops_hears_of_a_new_dispute_not_of_one_still_open() -> None:
    disputed = event(CREDIT, state="disputed", firm_id="acme", reasons=[{"sentence": "Dup."}])
    (notice,) = notices_for(disputed, CONTEXT)
    assert (notice.kind, notice.recipient_id, notice.sentence) == ("dispute_opened", OPS, "Dup.")
    still = Context(previous_credit={disputed.event_id: "disputed"})
    assert notices_for(disputed, still) == []
    assert notices_for(event(CREDIT, state="credited"), CONTEXT) == []


def test_ops_hears_of_a_disabled_webhook() -> None:
    off = Event(uuid4(), WEBHOOK_DISABLED, MONDAY_NOON, None, {"url": "https://x.test/h",
                "firm_id": "acme", "reason": "no delivery succeeded"})  # fmt: skip
    (notice,) = notices_for(off, CONTEXT)
    assert (notice.recipient_id, notice.title) == (
        OPS,
        "Webhook disabled: https://x.test/h (firm acme)",
    )
    assert notice.lead_id is None


def test_an_event_names_the_owners_its_messages_need() -> None:
    again = routed("lee", reason="owner_rejected", previous_owner_id="dana")
    assert mentioned(again) == {"lee", "dana"}
    assert mentioned(event(BREACHED, owner_id="dana", manager_id="mia")) == {"dana", "mia"}


def test_a_notification_waits_for_business_hours_but_a_breach_does_not() -> None:
    new = notices_for(routed("dana"), CONTEXT)[0]
    saturday = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert send_after(DANA, new, saturday) == datetime(2026, 12, 7, 14, tzinfo=UTC)  # 9:00 EST
    assert send_after(DANA, new, MONDAY_NOON + timedelta(hours=3)) == MONDAY_NOON + timedelta(
        hours=3
    )
    breach = notices_for(event(BREACHED, owner_id="lee", manager_id="dana"), CONTEXT)[0]
    assert send_after(DANA, breach, saturday) == saturday
    thanksgiving = datetime(2026, 11, 26, 15, tzinfo=UTC)  # a US public holiday
    assert send_after(DANA, new, thanksgiving) == datetime(2026, 11, 27, 14, tzinfo=UTC)
    ops = Recipient(OPS, "ops", email="ops@example.com")
    assert send_after(ops, new, saturday) == saturday  # ops has no quiet hours


def test_an_owner_without_hours_of_their_own_keeps_the_routers_default() -> None:
    plain = recipient_from_directory({"owner_id": "x", "name": "X", "notify": {}})
    assert plain.hours is not None
    assert plain.addresses() == []
    broken = recipient_from_directory(
        {"owner_id": "y", "business_hours": {"timezone": "Mars/Base"}}
    )
    assert broken.hours is not None  # unreadable hours are the default, not "never"


def test_one_message_per_interval() -> None:
    every = timedelta(minutes=5)
    assert paced_until(None, MONDAY_NOON, every) is None
    assert paced_until(MONDAY_NOON - timedelta(minutes=6), MONDAY_NOON, every) is None
    last = MONDAY_NOON - timedelta(minutes=2)
    assert paced_until(last, MONDAY_NOON, every) == last + every
    assert paced_until(last, MONDAY_NOON, timedelta(0)) is None


def _items(count: int) -> list[Item]:
    return [
        Item(n, f"{uuid4()}:assigned", "assigned", LEAD, f"New lead: L{n}", "Routed.")
        for n in range(count)
    ]


def test_a_single_message_and_a_digest_say_what_they_carry_and_link_the_timeline() -> None:
    one = Message(_items(1), "http://ops.test")
    assert one.subject == "New lead: L0"
    assert f"http://ops.test/#/leads/{LEAD}" in one.text()
    many = Message(_items(DIGEST_LISTED + 5), "http://ops.test")
    assert many.subject == f"{DIGEST_LISTED + 5} updates from Leadflow"
    assert many.text().count("New lead:") == DIGEST_LISTED
    assert "... and 5 more: http://ops.test" in many.text()


def test_the_message_id_is_the_same_for_the_same_notifications() -> None:
    items = _items(3)
    assert Message(items, "a").message_id == Message(list(items), "b").message_id
    assert Message(items[:2], "a").message_id != Message(items, "a").message_id
    message = Message(items, "http://ops.test")
    mail = email(message, sender="Leadflow <l@x.test>", to="d@x.test", at=MONDAY_NOON)
    assert mail["Date"] == "Mon, 30 Nov 2026 12:00:00 +0000"
    assert mail["Message-ID"] == Message(items, "a").message_id
    assert mail["X-Leadflow-Notifications"] == ", ".join(i.key for i in items)


def test_the_slack_message_has_a_fallback_text_and_a_section_per_item_with_a_button() -> None:
    body = slack(Message([Item(1, "k", "assigned", LEAD, "New <lead> & co", "Why.")], "http://o"))
    assert body["text"] == "New <lead> & co"
    (section,) = body["blocks"]
    assert section["text"]["text"] == "*New &lt;lead&gt; &amp; co*\nWhy."
    assert section["accessory"]["url"] == f"http://o/#/leads/{LEAD}"
    digest = slack(Message(_items(DIGEST_LISTED + 1), "http://o"))
    assert digest["blocks"][0]["type"] == "header"
    assert len(digest["blocks"]) == DIGEST_LISTED + 2  # header, the items, "and 1 more"


def test_ops_hears_of_a_dead_letter_with_where_its_copy_is() -> None:
    dead = event(
        DEAD_LETTERED, consumer="router.leads", reason="handler_failed", error="KeyError('x')",
        dead_event_type="leadflow.lead.received.v1", from_topic="leads.received", partition=2,
        offset=41,
    )  # fmt: skip
    (notice,) = notices_for(dead, CONTEXT)
    assert (notice.kind, notice.recipient_id) == ("dead_letter", OPS)
    assert notice.title == "Dead letter: router.leads gave up on leadflow.lead.received.v1"
    assert notice.sentence == (
        "handler_failed: KeyError('x') (leads.received partition 2 offset 41; "
        "the copy is on leads.received.dlq)"
    )


def test_a_line_break_in_a_leads_name_cannot_break_the_email_s_headers() -> None:
    item = Item(1, "k", "assigned", LEAD, "New lead: Eve\r\nBcc: all@corp.test", "Routed.")
    mail = email(Message([item], "http://o"), sender="l@x.test", to="d@x.test", at=MONDAY_NOON)
    assert mail["Subject"] == "New lead: Eve Bcc: all@corp.test"
    assert mail["Bcc"] is None
