"""Durable SLA timers: the router is stopped with timers pending and started again as
two instances; every timer fires exactly once — counted in the database and in the
events read back from the broker."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from uuid import UUID

from sqlalchemy import func, select
from sqlmodel import col

from services.router import service
from services.router.tables import RoutingDecisionRow, SlaTimerRow
from shared.db import SessionFactory
from shared.events.lifecycle import LeadReassigned, LeadSlaBreached, LeadSlaReminder
from tests.integration.router.conftest import (
    OUTBOX,
    FakeClock,
    ny,
    outbox_drained,
    running_router,
    sla_space,
)
from tests.support.infra import Infra
from tests.support.kafka import read_until

LEADS = 12
SLA_TYPES = (LeadSlaReminder.event_type, LeadSlaBreached.event_type, LeadReassigned.event_type)


async def _fired(sessions: SessionFactory, leads: list[UUID]) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(col(SlaTimerRow.kind), func.count())
            .where(
                col(SlaTimerRow.lead_id).in_(leads),
                col(SlaTimerRow.status) == "fired",
                col(SlaTimerRow.revision) == 1,
            )
            .group_by(col(SlaTimerRow.kind))
        )
        return Counter({kind: count for kind, count in rows.all()})


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_timers_survive_a_restart_and_fire_once_across_two_instances(
    infra: Infra, own_database: str, own_sessions: SessionFactory
) -> None:
    space = await sla_space(own_sessions)
    clock = FakeClock(ny(24, 9))  # Tuesday 9 am: reminder 1 pm, breach 5 pm, reassign Wed 5 pm
    leads = [space.lead() for _ in range(LEADS)]
    ids = [lead.lead_id for lead in leads]
    async with own_sessions() as session, session.begin():
        for lead in leads:
            await service.route_new_lead(session, OUTBOX, lead, ruleset=space.ruleset, now=clock())

    async with running_router(infra, own_database, clock):
        clock.now = ny(24, 13)
        await _until(
            lambda: _reminders_done(own_sessions, ids), "the reminders on the first instance"
        )
        await outbox_drained(own_sessions)
    assert await _fired(own_sessions, ids) == Counter({"reminder": LEADS})

    clock.now = ny(25, 17)  # while the router is down, the breach and reassignment fall due
    async with (
        running_router(infra, own_database, clock),
        running_router(infra, own_database, clock),
    ):
        await _until(lambda: _all_done(own_sessions, ids), "breach and reassignment")
        await outbox_drained(own_sessions)

    assert await _fired(own_sessions, ids) == Counter(
        {"reminder": LEADS, "breach": LEADS, "reassign": LEADS}
    )
    async with own_sessions() as session:
        revisions = await session.scalar(
            select(func.count()).where(col(RoutingDecisionRow.lead_id).in_(ids))
        )
        pending = await session.scalar(
            select(func.count()).where(
                col(SlaTimerRow.lead_id).in_(ids), col(SlaTimerRow.status) == "pending"
            )
        )
    assert revisions == 2 * LEADS  # one reassignment each, not two
    assert pending == 3 * LEADS  # the new owners' timers, armed once

    wanted = {str(i) for i in ids}
    seen = await read_until(
        infra.bootstrap_servers,
        "leads.status",
        lambda found: (
            sum(e.type in SLA_TYPES and e.data["lead_id"] in wanted for e in found) >= 3 * LEADS
        ),
    )
    await asyncio.sleep(1)  # anything sent twice would be on the topic by now
    seen = await read_until(infra.bootstrap_servers, "leads.status", lambda _: False, timeout_s=3)
    counts = Counter(
        (e.data["lead_id"], e.type)
        for e in seen
        if e.type in SLA_TYPES and e.data["lead_id"] in wanted
    )
    assert counts == Counter({(lead, kind): 1 for lead in wanted for kind in SLA_TYPES})


async def _reminders_done(sessions: SessionFactory, ids: list[UUID]) -> bool:
    return (await _fired(sessions, ids))["reminder"] == LEADS


async def _all_done(sessions: SessionFactory, ids: list[UUID]) -> bool:
    fired = await _fired(sessions, ids)
    return fired["breach"] == LEADS and fired["reassign"] == LEADS
