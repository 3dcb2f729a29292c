"""The lifecycle over HTTP, on a router running in process against the real database
and broker: sales accepts a lead (its SLA timers stop, ``lead.status_changed`` is
published by the router); an illegal move is a 409 problem naming the stages; a lead
known only from a meeting is not routed yet (409); meetings move the stage leniently;
owners' business hours and teams' SLA are validated (422 naming the field)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from services.router import service
from services.router.consumer import on_meeting_updated
from shared.db import SessionFactory
from shared.events.activities import MeetingStatus, MeetingUpdated
from shared.events.status import LeadStatusChanged
from tests.integration.router.conftest import (
    OPS,
    OUTBOX,
    FakeClock,
    envelope_of,
    ny,
    outbox_drained,
    running_router,
    sla_space,
)
from tests.support.credentials import SALES, bearer
from tests.support.infra import Infra
from tests.support.kafka import read_until

ADMIN_ACTOR = "tests (admin) (00000000000000ad)"
PROBLEM = "application/problem+json"


def _meeting(lead_id: UUID, status: MeetingStatus, at: datetime) -> MeetingUpdated:
    return MeetingUpdated(
        meeting_id=uuid4(),
        firm_id="firm-x",
        lead_id=lead_id,
        contact_email="pat@example.com",
        email_domain="example.com",
        status=status,
        occurred_at=at,
        reported_at=at,
        reported_by="firm",
    )


async def test_sales_moves_a_lead_through_the_stage_api(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 10))
    lead = space.lead()
    async with own_sessions() as session, session.begin():
        await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())
    url = f"/v1/leads/{lead.lead_id}"
    async with running_router(infra, own_database, clock) as router:
        anonymous = await router.post(f"{url}/stage", json={"stage": "accepted"})
        assert anonymous.status_code == 401

        before = (await router.get(f"{url}/lifecycle", headers=OPS)).json()
        assert before["stage"] == "routed"
        assert [t["kind"] for t in before["pending_timers"]] == ["reminder", "breach", "reassign"]

        no_reason = await router.post(f"{url}/stage", json={"stage": "rejected"}, headers=OPS)
        assert no_reason.status_code == 422
        assert no_reason.headers["content-type"] == PROBLEM
        assert "reason_code is required" in no_reason.json()["detail"]
        bad_reason = await router.post(
            f"{url}/stage",
            json={"stage": "rejected", "reason_code": "not_a_code"},
            headers=OPS,
        )
        assert bad_reason.status_code == 422
        assert bad_reason.json()["errors"][0]["field"] == "reason_code"

        future = await router.post(
            f"{url}/stage",
            json={
                "stage": "accepted",
                "occurred_at": (clock() + timedelta(hours=1)).isoformat(),
            },
            headers=OPS,
        )
        assert future.status_code == 422
        assert future.json()["errors"][0]["field"] == "occurred_at"
        backdated = await router.post(  # credit works in event time: no backdated rejections
            f"{url}/stage",
            json={
                "stage": "rejected",
                "reason_code": "not_icp",
                "occurred_at": (lead.received_at - timedelta(days=1)).isoformat(),
            },
            headers=OPS,
        )
        assert backdated.status_code == 422
        assert "before the lead was received" in backdated.json()["errors"][0]["reason"]
        assert (await router.get(f"{url}/lifecycle", headers=OPS)).json()["stage"] == "routed"

        clock.now = ny(24, 11)
        accepted = await router.post(f"{url}/stage", json={"stage": "accepted"}, headers=OPS)
        assert accepted.status_code == 200, accepted.text
        body = accepted.json()
        assert (body["stage"], body["pending_timers"]) == ("accepted", [])
        assert body["history"][-1]["from"] == "routed"
        assert body["history"][-1]["actor"] == ADMIN_ACTOR  # the credential, not a field
        assert body["stage_at"].startswith("2026-11-24T16:00:00")  # 11 am in New York

        retried = await router.post(  # the same move again (a client's retry): a no-op
            f"{url}/stage", json={"stage": "accepted"}, headers=OPS
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["history"] == body["history"]

        # the same move by another credential is a new move: illegal from accepted
        again = await router.post(f"{url}/stage", json={"stage": "accepted"}, headers=bearer(SALES))
        assert again.status_code == 409
        assert again.headers["content-type"] == PROBLEM
        problem = again.json()
        assert "stage accepted cannot move to accepted" in problem["detail"]
        assert problem["errors"] == [
            {
                "field": "stage",
                "reason": "from accepted; allowed: disqualified, qualified",  # meetings: intake
            }
        ]
        closed = await router.post(f"{url}/stage", json={"stage": "closed_won"}, headers=OPS)
        assert closed.status_code == 409

        unknown = await router.post(
            f"/v1/leads/{uuid4()}/stage", json={"stage": "accepted"}, headers=OPS
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == PROBLEM
        assert (await router.get(f"/v1/leads/{uuid4()}/lifecycle", headers=OPS)).status_code == 404

        # A meeting reported for a lead the router has not routed yet.
        early = uuid4()
        async with own_sessions() as session, session.begin():
            await on_meeting_updated(
                session, envelope_of(_meeting(early, "booked", clock())), clock=clock
            )
        not_routed = await router.post(
            f"/v1/leads/{early}/stage", json={"stage": "accepted"}, headers=OPS
        )
        assert not_routed.status_code == 409
        assert not_routed.json()["errors"][0]["field"] == "lead_id"
        assert "not routed yet" in not_routed.json()["detail"]

        # Meetings move the accepted lead leniently: held before booked is kept, and the
        # late booking report does not move it back.
        reports: list[tuple[MeetingStatus, int]] = [("held", 60), ("booked", 30)]
        for status, minutes in reports:
            async with own_sessions() as session, session.begin():
                meeting = _meeting(lead.lead_id, status, clock() + timedelta(minutes=minutes))
                await on_meeting_updated(session, envelope_of(meeting), clock=clock)
        after = (await router.get(f"{url}/lifecycle", headers=OPS)).json()
        assert after["stage"] == "meeting_held"
        assert [(h["stage"], h["in_order"], h.get("fact")) for h in after["history"][-2:]] == [
            ("meeting_held", False, "meeting.held"),
            ("meeting_booked", False, "meeting.booked"),
        ]
        qualified = await router.post(f"{url}/stage", json={"stage": "qualified"}, headers=OPS)
        assert qualified.status_code == 200, qualified.text
        bad_zone = await router.put(
            f"/v1/owners/{space.id('zed')}",
            json={"name": "Zed", "role": "AE", "business_hours": {"timezone": "Mars/Olympus"}},
            headers=OPS,
        )
        assert bad_zone.status_code == 422
        assert bad_zone.json()["errors"][0]["field"] == "business_hours.timezone"
        bad_sla = await router.put(
            f"/v1/teams/{space.team}",
            json={"name": "T", "sla": {"accept_within_minutes": 60, "reminder_share": 2}},
            headers=OPS,
        )
        assert bad_sla.status_code == 422
        assert bad_sla.json()["errors"][0]["field"] == "sla.reminder_share"
        owner = (await router.get(f"/v1/owners/{space.id('ana')}", headers=OPS)).json()
        assert owner["business_hours"]["timezone"] == "America/New_York"
        teams = (await router.get("/v1/teams", headers=OPS)).json()
        assert next(t for t in teams if t["team_id"] == space.team)["sla"]["name"] == "accept-8h"
        await outbox_drained(own_sessions)

    seen = await read_until(
        infra.bootstrap_servers,
        "leads.status",
        lambda found: sum(e.data.get("lead_id") == str(lead.lead_id) for e in found) >= 2,
    )
    published = [
        (e.source, e.data["stage"], e.data["actor"])
        for e in seen
        if e.type == LeadStatusChanged.event_type and e.data["lead_id"] == str(lead.lead_id)
    ]
    assert published == [
        ("/router", "accepted", ADMIN_ACTOR),
        ("/router", "qualified", ADMIN_ACTOR),
    ]
