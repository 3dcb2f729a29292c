"""SLA timers on the real PostgreSQL with a driven clock: a lead nobody accepts is
reminded, escalated and reassigned at the right business-hours times across
Thanksgiving (2026-11-26) and a weekend; an accepted lead gets nothing; a lead
reassigned gets fresh timers for its new owner; each timer fires once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.router import lifecycle, service, store, workspace
from services.router.consumer import on_lead_status_changed
from services.router.domain.lifecycle import IllegalTransition
from services.router.domain.sla import plan
from services.router.schemas import AccountIn, OwnerIn
from services.router.sla_timers import SLA_EVENTS, SlaTimers
from shared.business_hours import BusinessHours
from shared.db import SessionFactory
from shared.events.envelope import Envelope
from shared.events.lifecycle import LeadReassigned, LeadSlaBreached, LeadSlaReminder
from shared.events.routing import LeadRouted
from shared.events.status import LeadStatusChanged
from tests.integration.router.conftest import (
    EIGHT_HOURS,
    OUTBOX,
    US_HOURS,
    FakeClock,
    ny,
    outbox_events,
    sla_space,
    timers_of,
)

SLA_TYPES = {LeadSlaReminder.event_type, LeadSlaBreached.event_type, LeadReassigned.event_type}


async def _drain(timers: SlaTimers) -> None:
    while await timers.fire_due():
        pass


async def _sla_events(sessions: SessionFactory, lead_id: object) -> list[tuple[str, object]]:
    return [
        (e.type, e.time)
        for e in await outbox_events(sessions, lead_id)  # type: ignore[arg-type]
        if e.type in SLA_TYPES
    ]


async def test_an_unanswered_lead_is_reminded_escalated_and_reassigned_in_business_hours(
    own_sessions: SessionFactory,
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(25, 15))  # Wednesday before Thanksgiving, 3 pm in New York
    timers = SlaTimers(own_sessions, OUTBOX, clock)
    ignored, answered = space.lead(), space.lead()
    async with own_sessions() as session, session.begin():
        for lead in (ignored, answered):
            await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())
    planned = [
        (t.kind, t.fire_at, t.due_at) for t in await timers_of(own_sessions, ignored.lead_id)
    ]
    # 8 business hours: 2 on Wednesday, none on Thanksgiving, 6 on Friday...
    assert planned == [
        ("reminder", ny(27, 11), ny(27, 15)),
        ("breach", ny(27, 15), ny(27, 15)),
        ("reassign", ny(30, 15), ny(27, 15)),  # ...and a second 8 over the weekend to Monday
    ]

    clock.now = ny(25, 16)
    async with own_sessions() as session, session.begin():
        await lifecycle.change_stage(
            session,
            OUTBOX,
            answered.lead_id,
            lifecycle.StageChange("accepted", None, None, space.id("ana"), clock()),
            now=clock(),
        )
    assert {t.status for t in await timers_of(own_sessions, answered.lead_id)} == {"cancelled"}

    before = {k: SLA_EVENTS.labels(k)._value.get() for k in ("reminder", "breached", "reassigned")}
    for moment, expected in [
        (ny(26, 12), []),  # Thanksgiving: nothing counts
        (ny(27, 10, 59), []),
        (ny(27, 11), [(LeadSlaReminder.event_type, ny(27, 11))]),
        (ny(27, 14, 59), []),
        (ny(27, 15), [(LeadSlaBreached.event_type, ny(27, 15))]),
        (ny(29, 23), []),  # the weekend
        (ny(30, 14, 59), []),
        (ny(30, 15), [(LeadReassigned.event_type, ny(30, 15))]),
    ]:
        seen = len(await _sla_events(own_sessions, ignored.lead_id))
        clock.now = moment
        await _drain(timers)
        assert (await _sla_events(own_sessions, ignored.lead_id))[seen:] == expected, moment

    after = {k: SLA_EVENTS.labels(k)._value.get() for k in ("reminder", "breached", "reassigned")}
    assert {k: after[k] - before[k] for k in after} == {
        "reminder": 1,
        "breached": 1,
        "reassigned": 1,
    }
    assert await _sla_events(own_sessions, answered.lead_id) == []

    events = {e.type: e.data for e in await outbox_events(own_sessions, ignored.lead_id)}
    breached = events[LeadSlaBreached.event_type]
    assert breached["manager_id"] == space.id("mia")
    assert (breached["owner_id"], breached["sla_name"], breached["sla_minutes"]) == (
        space.id("ana"),
        "accept-8h",
        480,
    )
    reassigned = events[LeadReassigned.event_type]
    assert reassigned["from_owner_id"] == space.id("ana")
    # The account's owner is skipped: the named-owner rule falls back to her manager.
    assert reassigned["to_owner_id"] == space.id("mia")
    assert (reassigned["to_revision"], reassigned["rule"]) == (2, "named_owner")
    routed = LeadRouted.model_validate(events[LeadRouted.event_type])  # the latest revision
    assert (routed.revision, routed.reason, routed.owner and routed.owner.owner_id) == (
        2,
        "sla_reassigned",
        space.id("mia"),
    )

    rows = await timers_of(own_sessions, ignored.lead_id)
    assert [(t.revision, t.kind, t.status) for t in rows] == [
        (1, "reminder", "fired"),
        (1, "breach", "fired"),
        (1, "reassign", "fired"),
        (2, "reminder", "pending"),
        (2, "breach", "pending"),
        (2, "reassign", "pending"),
    ]
    assert rows[3].owner_id == space.id("mia")
    assert rows[3].fire_at == ny(1, 11, month=12)  # 4 business hours after Monday 3 pm

    clock.now += timedelta(minutes=1)  # nothing fires twice
    await _drain(timers)
    assert len(await _sla_events(own_sessions, ignored.lead_id)) == 3


async def test_leads_routed_together_get_the_timers_of_their_own_owners_hours(
    own_sessions: SessionFactory,
) -> None:
    """One batch, two owners keeping different hours: each lead's timers are its owner's
    (the batch's statement sends each distinct plan once)."""
    space = await sla_space(own_sessions)
    london = BusinessHours(timezone="Europe/London", country="GB")
    async with own_sessions() as session, session.begin():
        await workspace.put_owner(
            session,
            OUTBOX,
            space.id("lea"),
            OwnerIn(name="Lea", role="AE", team_id=space.team, business_hours=london),
        )
        await workspace.put_account(
            session,
            OUTBOX,
            space.id("globex"),
            AccountIn(name="Globex", domains=[space.domain("globex")], owner_id=space.id("lea")),
        )
    at = ny(25, 15)
    leads = [space.lead("acme"), space.lead("globex"), space.lead("acme")]
    async with own_sessions() as session, session.begin():
        await service.route_new_leads(
            session, OUTBOX, [(lead, None) for lead in leads], ruleset=space.ruleset, now=at
        )
    for lead, hours in zip(leads, (US_HOURS, london, US_HOURS), strict=True):
        expected = [(t.kind, t.fire_at, t.due_at) for t in plan(EIGHT_HOURS, hours.calendar(), at)]
        rows = await timers_of(own_sessions, lead.lead_id)
        assert [(t.kind, t.fire_at, t.due_at) for t in rows] == expected
        assert {(t.sla_name, t.sla_minutes, t.routed_at, t.revision) for t in rows} == {
            ("accept-8h", 480, at, 1)
        }
    london_reminder = (await timers_of(own_sessions, leads[1].lead_id))[0].fire_at
    assert london_reminder != (await timers_of(own_sessions, leads[0].lead_id))[0].fire_at


async def test_a_lead_accepted_late_keeps_what_fired_and_stops_the_rest(
    own_sessions: SessionFactory,
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 9))  # Tuesday morning
    timers = SlaTimers(own_sessions, OUTBOX, clock)
    lead = space.lead()
    async with own_sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())
    clock.now = ny(24, 13, 30)
    await _drain(timers)
    async with own_sessions() as session, session.begin():
        await lifecycle.change_stage(
            session,
            OUTBOX,
            lead.lead_id,
            lifecycle.StageChange("accepted", None, None, space.id("ana"), clock()),
            now=clock(),
        )
    clock.now = ny(30, 9)
    await _drain(timers)
    assert [t for t, _ in await _sla_events(own_sessions, lead.lead_id)] == [
        LeadSlaReminder.event_type
    ]
    assert [t.status for t in await timers_of(own_sessions, lead.lead_id)] == [
        "fired",
        "cancelled",
        "cancelled",
    ]


async def test_stage_changes_follow_the_table_and_publish_status_changes(
    own_sessions: SessionFactory,
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 10))
    lead = space.lead()
    async with own_sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())

    async def move(stage: str, reason: str | None = None) -> None:
        async with own_sessions() as session, session.begin():
            change = lifecycle.StageChange(stage, reason, None, "crm", clock())  # type: ignore[arg-type]
            await lifecycle.change_stage(session, OUTBOX, lead.lead_id, change, now=clock())

    await move("rejected", "wrong_owner")  # routed again, to ana's manager, with fresh timers
    async with own_sessions() as session:
        latest = await store.latest_decision(session, lead.lead_id)
        found = await lifecycle.view(session, lead.lead_id)
    assert latest is not None
    assert (latest.revision, latest.owner_id) == (2, space.id("mia"))
    assert found is not None
    assert (found.row.stage, found.row.owner_id) == ("routed", space.id("mia"))
    assert {(t.revision, t.owner_id) for t in found.timers} == {(2, space.id("mia"))}

    for stage in ("accepted", "qualified", "opportunity", "closed_won"):
        await move(stage)
    with pytest.raises(IllegalTransition) as refused:
        await move("closed_lost")
    assert (refused.value.current, refused.value.allowed) == ("closed_won", [])

    async with own_sessions() as session:
        found = await lifecycle.view(session, lead.lead_id)
    assert found is not None
    assert [(h["from"], h["stage"]) for h in found.row.history] == [
        (None, "received"),
        ("received", "routed"),
        ("routed", "rejected"),
        ("rejected", "routed"),
        ("routed", "accepted"),
        ("accepted", "qualified"),
        ("qualified", "opportunity"),
        ("opportunity", "closed_won"),
    ]
    assert found.timers == []
    published = [
        (e.data["stage"], e.data["reason_code"])
        for e in await outbox_events(own_sessions, lead.lead_id)
        if e.type == LeadStatusChanged.event_type
    ]
    assert published == [
        ("rejected", "wrong_owner"),
        ("accepted", None),
        ("qualified", None),
        ("opportunity", None),
        ("closed_won", None),
    ]


async def test_outside_status_facts_are_recorded_and_the_routers_own_are_skipped(
    own_sessions: SessionFactory,
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 10))
    lead = space.lead()
    async with own_sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())

    def status(stage: str, reason: str | None, source: str) -> Envelope:
        return LeadStatusChanged(
            lead_id=lead.lead_id,
            stage=stage,
            reason_code=reason,
            actor="crm",
            occurred_at=clock(),
        ).envelope(source)

    async with own_sessions() as session, session.begin():  # already applied by the API
        await on_lead_status_changed(session, status("accepted", None, "/router"), OUTBOX, clock)
    async with own_sessions() as session:
        found = await lifecycle.view(session, lead.lead_id)
    assert found is not None
    assert found.row.stage == "routed"
    assert len(found.timers) == 3

    async with own_sessions() as session, session.begin():
        await on_lead_status_changed(
            session, status("rejected", "contact_left_company", "/crm"), OUTBOX, clock
        )
    async with own_sessions() as session:
        found = await lifecycle.view(session, lead.lead_id)
    assert found is not None
    assert found.row.stage == "rejected"
    assert found.timers == []
    last = found.row.history[-1]
    assert (last["source"], last["in_order"], last["reason_code"]) == (
        "/crm",
        True,
        "contact_left_company",
    )
