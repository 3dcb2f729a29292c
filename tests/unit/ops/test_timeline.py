"""A lead's timeline from its events: the one-line summaries, the routing trace and the
credit reasons, the order (event time), and the header saying where the lead stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.ops.domain.timeline import Fact, details, summary, timeline

T0 = datetime(2026, 11, 20, 15, tzinfo=UTC)
LEAD = uuid4()

RECEIVED: dict[str, Any] = {
    "lead_id": str(LEAD),
    "channel": "api",
    "source": "website",
    "campaign": "demo-request",
    "email": "jordan.lee@walmart.com",
    "name": "Jordan Lee",
    "company": "Walmart Inc.",
}
ROUTED: dict[str, Any] = {
    "lead_id": str(LEAD),
    "revision": 1,
    "rule": "firm_assignment",
    "reason": "received",
    "owner": {"owner_id": "own-dana", "name": "Dana Ortiz", "role": "AE"},
    "account": {"account_id": "acc-walmart", "name": "Walmart"},
    "firm_assignment": {"firm_id": "acme-outreach", "starts_on": "2026-01-01"},
    "explanation": "Routed to Dana Ortiz (AE) because Walmart is assigned to acme-outreach.",
    "trace": [
        {"rule": "customer", "matched": False, "reason": "Walmart is a prospect"},
        {"rule": "firm_assignment", "matched": True, "reason": "assigned to acme-outreach"},
    ],
}


def credit(revision: int, state: str, amount: str) -> dict[str, Any]:
    return {
        "lead_id": str(LEAD),
        "revision": revision,
        "firm_id": "acme-outreach",
        "state": state,
        "amount": amount,
        "currency": "USD",
        "reasons": [{"rule": "touch.window", "sentence": "acme-outreach touched it in time."}],
    }


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        (
            "leadflow.lead.received.v1",
            RECEIVED,
            "Received Jordan Lee <jordan.lee@walmart.com> at Walmart Inc. via api "
            "(website, campaign demo-request).",
        ),
        (
            "leadflow.lead.received.v1",
            {"email": "a@b.com", "channel": "partner", "source": "acme", "firm_id": "acme"},
            "Received a@b.com <a@b.com> via partner (acme), submitted by firm acme.",
        ),
        (
            "leadflow.lead.received.v1",
            {"email": "a@b.com", "name": "Al", "channel": "web_form", "source": "web_form"},
            "Received Al <a@b.com> via web_form.",
        ),
        (
            "leadflow.meeting.updated.v1",
            {
                "status": "booked",
                "scheduled_for": "2026-11-24T16:30:00+01:00",
                "reported_by": "firm",
                "firm_id": "acme",
            },
            "Meeting booked for 2026-11-24 15:30 UTC, reported by firm (firm acme).",
        ),
        (
            "leadflow.lead.routed.v1",
            ROUTED,
            "Routed (revision 1, rule firm_assignment): Routed to Dana Ortiz (AE) because "
            "Walmart is assigned to acme-outreach.",
        ),
        (
            "leadflow.lead.routed.v1",
            {**ROUTED, "revision": 2, "reason": "owner_rejected"},
            "Routed (revision 2, rule firm_assignment, because owner_rejected): Routed to Dana "
            "Ortiz (AE) because Walmart is assigned to acme-outreach.",
        ),
        (
            "leadflow.lead.status_changed.v1",
            {"stage": "accepted", "actor": "own-dana"},
            "Accepted by own-dana.",
        ),
        (
            "leadflow.lead.status_changed.v1",
            {"stage": "rejected", "actor": "own-dana", "reason_code": "contact_left_company"},
            "Rejected by own-dana: the contact no longer works there.",
        ),
        (
            "leadflow.lead.status_changed.v1",
            {"stage": "rejected", "actor": "x", "reason_code": "other", "comment": "spam"},
            "Rejected by x: another reason — “spam”.",
        ),
        (
            "leadflow.lead.status_changed.v1",
            {"stage": "closed_won", "actor": "crm"},
            "Moved to closed won by crm.",
        ),
        (
            "leadflow.meeting.updated.v1",
            {"status": "no_show", "reported_by": "sales", "firm_id": "acme"},
            "Meeting no show, reported by sales (firm acme).",
        ),
        (
            "leadflow.credit.decided.v1",
            credit(2, "credited", "150.00"),
            "Credit revision 2: credited, 150.00 USD for acme-outreach.",
        ),
        (
            "leadflow.credit.decided.v1",
            {"revision": 1, "state": "not_eligible", "amount": "0", "currency": "USD"},
            "Credit revision 1: not eligible, 0 USD for no firm.",
        ),
        (
            "leadflow.lead.sla_reminder.v1",
            {
                "owner_id": "own-lee",
                "due_at": "2026-11-20T17:00:00Z",
                "sla_name": "default",
                "sla_minutes": 240,
            },
            "SLA reminder to own-lee: accept by 2026-11-20 17:00 UTC (default, 240 business "
            "minutes).",
        ),
        (
            "leadflow.lead.sla_breached.v1",
            {
                "owner_id": "own-lee",
                "due_at": "2026-11-20T17:00:00Z",
                "sla_name": "team",
                "manager_id": "own-sam",
            },
            "SLA breached: own-lee did not accept by 2026-11-20 17:00 UTC (team); manager "
            "own-sam told.",
        ),
        (
            "leadflow.lead.sla_breached.v1",
            {"owner_id": "own-lee", "due_at": "x", "manager_id": None},
            "SLA breached: own-lee did not accept by x (SLA); no manager to tell.",
        ),
        (
            "leadflow.lead.reassigned.v1",
            {
                "owner_id": "own-lee",
                "from_owner_id": "own-lee",
                "to_owner_id": "own-dana",
                "to_revision": 2,
                "rule": "north-america",
            },
            "Reassigned from own-lee to own-dana after a second SLA (revision 2, rule "
            "north-america).",
        ),
        (
            "leadflow.lead.reassigned.v1",
            {"from_owner_id": "own-lee", "to_owner_id": None, "queue": "na", "to_revision": 3},
            "Reassigned from own-lee to queue na after a second SLA (revision 3).",
        ),
        ("leadflow.lead.teleported.v9", {"x": 1}, "leadflow.lead.teleported.v9 from router."),
    ],
)
def test_each_event_has_one_human_line(
    event_type: str, data: dict[str, Any], expected: str
) -> None:
    assert summary(event_type, data, "/router") == expected


def test_the_routing_trace_and_credit_reasons_are_the_details() -> None:
    assert details("leadflow.lead.routed.v1", ROUTED) == [
        "· customer: Walmart is a prospect",
        "✓ firm_assignment: assigned to acme-outreach",
    ]
    assert details("leadflow.credit.decided.v1", credit(1, "credited", "1")) == [
        "acme-outreach touched it in time."
    ]
    assert details("leadflow.lead.received.v1", RECEIVED) == []
    assert details("leadflow.lead.routed.v1", {"trace": "not a list"}) == []


def test_the_timeline_is_in_event_time_and_the_header_says_where_the_lead_stands() -> None:
    facts = [
        # Credit's second revision arrives (stream position) before the first was logged.
        Fact(
            5,
            "leadflow.credit.decided.v1",
            "/credit",
            T0 + timedelta(hours=3),
            credit(2, "credited", "150.00"),
        ),
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(
            4,
            "leadflow.credit.decided.v1",
            "/credit",
            T0 + timedelta(seconds=3),
            credit(1, "pending", "0"),
        ),
        Fact(2, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=2), ROUTED),
        Fact(
            3,
            "leadflow.lead.status_changed.v1",
            "/intake",
            T0 + timedelta(hours=1),
            {"stage": "accepted", "actor": "own-dana"},
        ),
        Fact(  # a second revision (the account changed hands): a new owner
            6,
            "leadflow.lead.routed.v1",
            "/router",
            T0 + timedelta(hours=2),
            {**ROUTED, "revision": 2, "owner": {"owner_id": "own-lee", "name": "Lee Chen"}},
        ),
    ]
    told = timeline(LEAD, facts)
    assert [e.seq for e in told.events] == [1, 2, 4, 3, 6, 5]
    assert [e.service for e in told.events][:3] == ["intake", "router", "credit"]
    head = told.lead
    assert (head.email, head.channel, head.campaign) == (
        "jordan.lee@walmart.com",
        "api",
        "demo-request",
    )
    assert (head.stage, head.stage_at) == ("routed", T0 + timedelta(hours=2))  # routed again
    assert (head.owner_id, head.owner_name) == ("own-lee", "Lee Chen")
    assert (head.account_id, head.account_name, head.firm_id) == (
        "acc-walmart",
        "Walmart",
        "acme-outreach",
    )
    assert head.credit is not None
    assert (head.credit.state, head.credit.amount, head.credit.revision) == (
        "credited",
        "150.00",
        2,
    )


def test_a_late_older_credit_revision_does_not_replace_the_newer() -> None:
    facts = [
        Fact(1, "leadflow.credit.decided.v1", "/credit", T0, credit(2, "void", "0")),
        Fact(
            2,
            "leadflow.credit.decided.v1",
            "/credit",
            T0 + timedelta(seconds=1),
            credit(1, "pending", "0"),
        ),
    ]
    head = timeline(LEAD, facts).lead
    assert head.credit is not None
    assert head.credit.state == "void"


@pytest.mark.parametrize(
    ("event_type", "data", "stage"),
    [
        ("leadflow.lead.routed.v1", {"owner": None, "queue": "unassigned"}, "unassigned"),
        ("leadflow.meeting.updated.v1", {"status": "held"}, "meeting_held"),
        ("leadflow.meeting.updated.v1", {"status": "rescheduled_by_sales"}, "rescheduled"),
        ("leadflow.meeting.updated.v1", {"status": "flagged_bad"}, "received"),
        ("leadflow.lead.status_changed.v1", {"stage": "qualified"}, "qualified"),
        ("leadflow.activity.logged.v1", {"kind": "call"}, "received"),
    ],
)
def test_stage_follows_the_latest_event_that_moves_the_lead(
    event_type: str, data: dict[str, Any], stage: str
) -> None:
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(2, event_type, "/x", T0 + timedelta(minutes=1), data),
    ]
    assert timeline(LEAD, facts).lead.stage == stage


def test_at_the_same_instant_routing_reads_before_the_credit_decision_it_led_to() -> None:
    """Credit decides as of its latest fact (often the routing's own time) and ops may log
    the decision first: the timeline still tells it in the pipeline's order."""
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(
            2,
            "leadflow.credit.decided.v1",
            "/credit",
            T0 + timedelta(seconds=1),
            credit(1, "credited", "150.00"),
        ),
        Fact(3, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=1), ROUTED),
    ]
    told = timeline(LEAD, facts)
    assert [e.service for e in told.events] == ["intake", "router", "credit"]


def routed(revision: int, reason: str = "received") -> dict[str, Any]:
    return {**ROUTED, "revision": revision, "reason": reason}


def credit_on(revision: int, routing_revision: int, state: str = "pending") -> dict[str, Any]:
    return {**credit(revision, state, "0"), "routing_revision": routing_revision}


def told(*facts: Fact) -> list[tuple[str, int]]:
    """(type's last word, revision) of each entry, in the order the timeline tells them."""
    return [
        (e.type.split(".")[-2], r if isinstance(r := e.data.get("revision"), int) else 0)
        for e in timeline(LEAD, facts).events
    ]


def test_credit_revision_one_dated_at_receipt_reads_after_the_routing_it_followed() -> None:
    """Credit dates its first decision as of the lead's receipt, before the router
    decided: by event time alone it read between the receipt and the routing."""
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(3, "leadflow.credit.decided.v1", "/credit", T0, credit_on(1, 1)),
        Fact(2, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=2), routed(1)),
    ]
    assert told(*facts) == [("received", 0), ("routed", 1), ("decided", 1)]
    entry = timeline(LEAD, facts).events[-1]
    assert entry.time == T0  # credit's own date is kept; only the place moves


def test_a_credit_revision_after_a_re_routing_reads_after_that_routing() -> None:
    """Sales rejects; the router routes again a moment later; credit decides as of the
    rejection (its latest fact), on routing revision 2."""
    rejected_at = T0 + timedelta(hours=1)
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(2, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=2), routed(1)),
        Fact(3, "leadflow.credit.decided.v1", "/credit", T0, credit_on(1, 1)),
        Fact(
            4,
            "leadflow.lead.status_changed.v1",
            "/router",
            rejected_at,
            {"stage": "rejected", "actor": "own-dana", "reason_code": "wrong_owner"},
        ),
        Fact(6, "leadflow.credit.decided.v1", "/credit", rejected_at, credit_on(2, 2)),
        Fact(
            5,
            "leadflow.lead.routed.v1",
            "/router",
            rejected_at + timedelta(milliseconds=300),
            routed(2, "owner_rejected"),
        ),
        Fact(7, "leadflow.lead.status_changed.v1", "/router", T0 + timedelta(hours=2), {}),
    ]
    assert told(*facts) == [
        ("received", 0),
        ("routed", 1),
        ("decided", 1),
        ("status_changed", 0),
        ("routed", 2),
        ("decided", 2),
        ("status_changed", 0),
    ]


def test_credit_revisions_keep_their_order_and_other_events_keep_their_time() -> None:
    """Revision 2 dated before revision 1's place (both on routing revision 1) still
    reads after revision 1; an acceptance between receipt and routing stays there."""
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(
            5, "leadflow.credit.decided.v1", "/credit", T0 + timedelta(seconds=1), credit_on(2, 1)
        ),
        Fact(4, "leadflow.credit.decided.v1", "/credit", T0, credit_on(1, 1)),
        Fact(
            2,
            "leadflow.lead.status_changed.v1",
            "/intake",
            T0 + timedelta(seconds=1),
            {"stage": "accepted", "actor": "crm"},
        ),
        Fact(3, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=5), routed(1)),
    ]
    assert told(*facts) == [
        ("received", 0),
        ("status_changed", 0),
        ("routed", 1),
        ("decided", 1),
        ("decided", 2),
    ]


def test_a_credit_decision_whose_routing_is_not_logged_keeps_its_own_time() -> None:
    facts = [
        Fact(1, "leadflow.lead.received.v1", "/intake", T0, RECEIVED),
        Fact(2, "leadflow.credit.decided.v1", "/credit", T0, credit_on(1, 3)),
        Fact(3, "leadflow.lead.routed.v1", "/router", T0 + timedelta(seconds=2), routed(1)),
        # a malformed routing revision is no reason to fail: event time
        Fact(4, "leadflow.credit.decided.v1", "/credit", T0, {"revision": "x"}),
    ]
    assert told(*facts) == [("received", 0), ("decided", 1), ("decided", 0), ("routed", 1)]


def test_an_admin_write_that_changed_the_lead_is_a_line_saying_who() -> None:
    from services.ops.domain.timeline import AUDITED

    settled = Fact(
        0,
        AUDITED,
        "/credit",
        datetime(2026, 11, 21, 9, tzinfo=UTC),
        {
            "action": "dispute.overturned",
            "actor": "Ops Ana (0123456789abcdef)",
            "entity_type": "lead",
            "after": {"state": "credited", "comment": "the meeting was real"},
        },
    )
    told = timeline(uuid4(), [settled])
    assert told.events[0].service == "credit"
    assert told.events[0].summary == (
        "Ops Ana (0123456789abcdef) overturned the disputed credit decision: the meeting was real."
    )


SAID = "Ops Ana overturned the disputed credit decision"


@pytest.mark.parametrize(
    ("comment", "line"),
    [
        ("Call log shows it.", f"{SAID}: Call log shows it."),
        ("Really? ", f"{SAID}: Really?"),
        (None, f"{SAID}."),
    ],
)
def test_an_admin_line_ends_in_one_full_stop(comment: str | None, line: str) -> None:
    from services.ops.domain.timeline import AUDITED

    after = {"state": "credited"} | ({"comment": comment} if comment else {})
    data = {"action": "dispute.overturned", "actor": "Ops Ana", "after": after}
    fact = Fact(0, AUDITED, "/credit", datetime(2026, 11, 21, 9, tzinfo=UTC), data)
    assert timeline(uuid4(), [fact]).events[0].summary == line
