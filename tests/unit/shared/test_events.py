"""The event envelope and registry: CloudEvents shape, versioned types, round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.events import TOPICS, Envelope, UnknownEventType, event_types, parse
from shared.events.credit import CreditDecided, Reason
from shared.events.leads import LeadReceived
from shared.events.routing import AccountMatch, FirmAssignment, LeadRouted, TraceStep

RECEIVED_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def received() -> LeadReceived:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=RECEIVED_AT,
        channel="api",
        source="website",
        email="dana@walmart.com",
        email_domain="walmart.com",
    )


def test_envelope_is_a_cloudevent_with_event_time_and_partition_key() -> None:
    event = received()
    envelope = event.envelope("/intake")
    wire = envelope.model_dump(mode="json")
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "leadflow.lead.received.v1"
    assert wire["source"] == "/intake"
    assert wire["datacontenttype"] == "application/json"
    assert wire["subject"] == f"lead/{event.lead_id}"
    assert envelope.time == RECEIVED_AT  # event time, not publication time
    assert envelope.partitionkey == str(event.lead_id)


def test_envelope_round_trips_through_bytes_and_parses_to_its_type() -> None:
    event = received()
    back = Envelope.from_bytes(event.envelope("/intake").to_bytes())
    assert parse(back) == event
    assert LeadReceived.from_envelope(back) == event


def test_routed_events_are_keyed_by_account_so_one_accounts_events_stay_ordered() -> None:
    lead_id = uuid4()
    common = {
        "lead_id": lead_id,
        "revision": 1,
        "lead_received_at": RECEIVED_AT,
        "decided_at": RECEIVED_AT,
        "channel": "api",
        "owner": None,
        "queue": "unassigned",
        "flags": [],
        "firm_assignment": None,
        "ruleset_version": "v",
        "trace": [],
        "explanation": "x",
    }
    matched = LeadRouted(
        **common,
        account=AccountMatch(account_id="acc-1", name="A", method="domain", score=1.0),
    )
    unmatched = LeadRouted(**common, account=None)
    assert matched.partition_key() == "acc-1"
    assert unmatched.partition_key() == str(lead_id)


def test_unknown_types_and_wrong_types_are_refused() -> None:
    envelope = received().envelope("/intake")
    stranger = envelope.model_copy(update={"type": "leadflow.lead.received.v99"})
    with pytest.raises(UnknownEventType):
        parse(stranger)
    with pytest.raises(UnknownEventType):
        CreditDecided.from_envelope(envelope)


@pytest.mark.parametrize(
    "broken",
    [
        b"{not json",
        b'{"specversion": "0.3", "source": "/x", "type": "t", "partitionkey": "k", "data": {}}',
        b'{"specversion": "1.0", "source": "", "type": "t", "partitionkey": "k", "data": {}}',
        b'{"specversion": "1.0", "source": "/x", "type": "t", "partitionkey": "k",'
        b' "time": "2026-01-01T00:00:00", "data": {}}',
    ],
)
def test_malformed_envelopes_do_not_parse(broken: bytes) -> None:
    with pytest.raises(ValidationError):
        Envelope.from_bytes(broken)


def test_every_registered_type_is_versioned_and_on_a_catalog_topic() -> None:
    catalog = {t.name for t in TOPICS}
    for name, model in event_types().items():
        assert name.startswith("leadflow.")
        assert name.rsplit(".", 1)[1].startswith("v")
        assert model.topic.name in catalog


def test_decimal_amounts_and_dates_survive_the_wire() -> None:
    decided = CreditDecided(
        lead_id=uuid4(),
        revision=2,
        routing_revision=1,
        firm_id="acme",
        state="credited",
        amount=Decimal("350.00"),
        currency="USD",
        policy_version="p1",
        reasons=[Reason(rule="r", sentence="s")],
        decided_at=RECEIVED_AT,
    )
    assert parse(Envelope.from_bytes(decided.envelope("/credit").to_bytes())) == decided
    firm = FirmAssignment(firm_id="acme", starts_on=date(2026, 1, 1), ends_on=None)
    step = TraceStep(rule="r", matched=True, reason="why")
    assert FirmAssignment.model_validate_json(firm.model_dump_json()) == firm
    assert TraceStep.model_validate_json(step.model_dump_json()) == step


TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


@pytest.mark.parametrize("written_before", [False, True])
@pytest.mark.parametrize("trace", [TRACE, {}])
def test_the_outbox_json_is_the_envelope_the_model_writes(
    trace: dict[str, str], written_before: bool
) -> None:
    event = received()
    payload = event.model_dump_json() if written_before else None  # as the router passes it
    event_id, text = event.envelope_json("/intake", trace, payload)
    written = Envelope.model_validate_json(text)
    expected = event.envelope("/intake", event_id=event_id).model_copy(update=trace)
    assert written == expected
    assert written.traceparent == trace.get("traceparent")
    assert parse(written) == event


def test_the_outbox_json_gets_a_new_id_each_time() -> None:
    first, _ = received().envelope_json("/intake", {})
    second, _ = received().envelope_json("/intake", {})
    assert first != second
