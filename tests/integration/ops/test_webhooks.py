"""Outbound webhooks end to end in process: ops (its real lifespan and sender) on the real
database, events kept by the real recording path, and a real HTTP receiver on a port of
this machine that verifies every delivery's signature with the ``standardwebhooks``
library and drops repeats by ``webhook-id``, as a receiver is told to."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import func, select

from services.ops.app import create_app
from services.ops.recording import record_all
from services.ops.settings import OpsSettings
from services.ops.tables import event_log
from shared import credentials
from shared.db import SessionFactory
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from tests.integration.ops.test_event_log import T0, routed
from tests.support.credentials import ADMIN, READ, bearer
from tests.support.infra import Infra
from tests.support.webhooks import Receiver, running_receiver, until

FAST = {
    "webhook_allow_private_targets": True,
    "webhook_poll_s": 0.05,
    "webhook_first_retry_s": 0.05,
    "webhook_longest_retry_s": 0.2,
    "webhook_timeout_s": 2,
}


@dataclass
class Ops:
    client: httpx.AsyncClient
    sessions: SessionFactory


@contextlib.asynccontextmanager
async def running_ops(infra: Infra, **settings: object) -> AsyncIterator[Ops]:
    app = create_app(infra.settings(), OpsSettings(**{**FAST, **settings}))  # type: ignore[arg-type]
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ops", timeout=30
        )
        async with client:
            yield Ops(client, app.state.runtime.sessions)
    finally:
        await lifespan.__aexit__(None, None, None)


def received(firm: str | None = None) -> Envelope:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=T0,
        channel="partner" if firm else "api",
        source="website",
        email=f"pat-{secrets.token_hex(3)}@initech.com",
        email_domain="initech.com",
        firm_id=firm,
    ).envelope("/intake")


async def keep(sessions: SessionFactory, *events: tuple[Envelope, str]) -> None:
    async with sessions() as session, session.begin():
        await record_all(session, list(events))


async def settled_log(ops: Ops, webhook_id: str, count: int) -> list[dict[str, Any]]:
    """The delivery log once ``count`` deliveries are delivered (a receiver has the event a
    moment before the sender records its answer)."""
    path = f"/v1/webhook-subscriptions/{webhook_id}/deliveries"
    found: list[dict[str, Any]] = []

    async def settled() -> bool:
        nonlocal found
        answer = await ops.client.get(path, headers=bearer(ADMIN))
        assert answer.status_code == 200, answer.text
        found = answer.json()["deliveries"]
        delivered: int = sum(d["status"] == "delivered" for d in found)
        return delivered == count

    await until(settled)
    return found


async def subscribe(
    ops: Ops, receiver: Receiver, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    made = await ops.client.post(
        "/v1/webhook-subscriptions", json={"url": receiver.url, **body}, headers=headers
    )
    assert made.status_code == 201, made.text
    receiver.secret = made.json()["secret"]
    return dict(made.json())


async def test_matching_events_arrive_signed_once_each_with_a_delivery_log(infra: Infra) -> None:
    async with running_receiver() as receiver, running_ops(infra) as ops:
        made = await subscribe(ops, receiver, bearer(ADMIN), types=["leadflow.lead.received"])
        assert made["active"] is True
        assert made["owner"] == "ops"
        first, second = received(), received()
        lead = UUID(str(first.data["lead_id"]))
        await keep(
            ops.sessions,
            (first, "leads.received"),
            (routed(lead, "firm-x", "acc-x"), "leads.routed"),
            (second, "leads.received"),
        )
        await until(lambda: len(receiver.kept) == 2)
        assert set(receiver.kept) == {str(first.id), str(second.id)}
        assert receiver.kept[str(first.id)]["data"]["lead_id"] == str(lead)
        assert receiver.kept[str(first.id)]["type"] == "leadflow.lead.received.v1"
        assert receiver.bad_signatures == receiver.repeats == 0
        deliveries = await settled_log(ops, made["id"], 2)
        assert [d["event_id"] for d in deliveries] == [str(second.id), str(first.id)]
        assert all(d["status"] == "delivered" for d in deliveries)
        assert deliveries[0]["log"][0]["status_code"] == 204
        assert deliveries[0]["log"][0]["latency_ms"] >= 0
        readers = await ops.client.get("/v1/webhook-subscriptions", headers=bearer(READ))
        assert readers.status_code == 403  # reading events is not managing webhooks
        assert (
            "secret"
            not in (
                await ops.client.get("/v1/webhook-subscriptions", headers=bearer(ADMIN))
            ).json()[0]
        )


async def test_a_failing_receiver_is_retried_until_it_takes_the_delivery(infra: Infra) -> None:
    async with running_receiver() as receiver, running_ops(infra) as ops:
        made = await subscribe(ops, receiver, bearer(ADMIN), types=["leadflow.lead.received.v1"])
        receiver.fail_next = 2
        event = received()
        await keep(ops.sessions, (event, "leads.received"))
        await until(lambda: str(event.id) in receiver.kept)
        assert receiver.requests == 3
        (delivery,) = await settled_log(ops, made["id"], 1)
        assert delivery["status"] == "delivered"
        assert delivery["attempts"] == 3
        assert [a["status_code"] for a in delivery["log"]] == [500, 500, 204]
        assert [a["ok"] for a in delivery["log"]] == [False, False, True]
        assert delivery["log"][0]["error"] == "answered 500"


async def test_a_subscription_that_keeps_failing_is_disabled_and_resumes_when_enabled(
    infra: Infra,
) -> None:
    async with (
        running_receiver() as receiver,
        running_ops(infra, webhook_disable_after_s=0.5) as ops,
    ):
        made = await subscribe(ops, receiver, bearer(ADMIN), types=["leadflow.lead.received.v1"])
        path = f"/v1/webhook-subscriptions/{made['id']}"
        receiver.always_fail = True
        before = received()
        await keep(ops.sessions, (before, "leads.received"))

        async def disabled() -> bool:
            found = await ops.client.get(path, headers=bearer(ADMIN))
            return found.json()["active"] is False

        await until(disabled)
        state = (await ops.client.get(path, headers=bearer(ADMIN))).json()
        assert state["disabled_reason"].startswith("no delivery succeeded since")

        async def ops_told() -> bool:  # the notice, through the broker into the event log
            async with ops.sessions() as session:
                found = await session.scalar(
                    select(func.count())
                    .select_from(event_log)
                    .where(
                        event_log.c.type == "leadflow.webhook.disabled.v1",
                        event_log.c.subject == f"webhook/{made['id']}",
                    )
                )
            return found == 1

        await until(ops_told, timeout_s=30)
        during = received()  # logged while disabled: delivered once it is enabled again
        await keep(ops.sessions, (during, "leads.received"))
        receiver.always_fail = False
        enabled = await ops.client.post(f"{path}/enable", headers=bearer(ADMIN))
        assert enabled.status_code == 200
        assert enabled.json()["active"] is True
        await until(lambda: {str(before.id), str(during.id)} <= set(receiver.kept))
        audit = await ops.client.get(
            "/v1/audit", params={"entity_id": made["id"]}, headers=bearer(ADMIN)
        )
        assert [e["action"] for e in audit.json()["entries"]] == [
            "webhook.enabled",
            "webhook.created",
        ]


async def test_a_partner_subscribes_to_its_own_firm_s_events_only(
    infra: Infra, sessions: SessionFactory
) -> None:
    mine, theirs = f"firm-{secrets.token_hex(3)}", f"firm-{secrets.token_hex(3)}"
    async with sessions() as session, session.begin():
        key = await credentials.issue(
            session, name="partner", scopes=("partner",), created_by="test", firm_id=mine
        )
        other = await credentials.issue(
            session, name="partner", scopes=("partner",), created_by="test", firm_id=theirs
        )
    async with running_receiver() as receiver, running_ops(infra) as ops:
        wider = await ops.client.post(
            "/v1/webhook-subscriptions",
            json={"url": receiver.url, "firm": theirs},
            headers=bearer(key.token),
        )
        assert wider.status_code == 403
        made = await subscribe(ops, receiver, bearer(key.token))
        assert made["owner"] == "firm"
        assert made["firm_id"] == mine
        own, foreign = received(mine), received(theirs)
        own_lead = UUID(str(own.data["lead_id"]))
        await keep(
            ops.sessions,
            (own, "leads.received"),
            (routed(own_lead, mine, "acc-1"), "leads.routed"),  # internals: never a partner's
            (foreign, "leads.received"),
        )
        await until(lambda: str(own.id) in receiver.kept)
        await asyncio.sleep(0.5)  # time enough for anything else to arrive
        assert set(receiver.kept) == {str(own.id)}
        path = f"/v1/webhook-subscriptions/{made['id']}"
        assert (await ops.client.get(path, headers=bearer(other.token))).status_code == 404
        assert (await ops.client.get(path, headers=bearer(key.token))).status_code == 200
        assert (
            await ops.client.get("/v1/webhook-subscriptions", headers=bearer(other.token))
        ).json() == []
        gone = await ops.client.delete(path, headers=bearer(other.token))
        assert gone.status_code == 404


async def test_a_redelivery_sends_the_same_webhook_id_again(infra: Infra) -> None:
    async with running_receiver() as receiver, running_ops(infra) as ops:
        made = await subscribe(ops, receiver, bearer(ADMIN), types=["leadflow.lead.received.v1"])
        event = received()
        await keep(ops.sessions, (event, "leads.received"))
        await until(lambda: str(event.id) in receiver.kept)
        path = f"/v1/webhook-subscriptions/{made['id']}/deliveries"
        (delivery,) = await settled_log(ops, made["id"], 1)
        again = await ops.client.post(f"{path}/{delivery['id']}/redeliver", headers=bearer(ADMIN))
        assert again.status_code == 202
        await until(lambda: receiver.repeats == 1)
        missing = await ops.client.post(f"{path}/999999999/redeliver", headers=bearer(ADMIN))
        assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/hook"}, "url"),
        ({"url": "https://10.0.0.8/hook"}, "url"),
        ({"url": "https://hooks.example.com/x", "types": ["no spaces allowed"]}, "types"),
        ({"url": "https://hooks.example.com/x", "types": ["x"] * 21}, "types"),
    ],
)
async def test_a_bad_subscription_is_refused_naming_the_field(
    infra: Infra, body: dict[str, Any], field: str
) -> None:
    async with running_ops(infra, webhook_allow_private_targets=False) as ops:
        refused = await ops.client.post(
            "/v1/webhook-subscriptions", json=body, headers=bearer(ADMIN)
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == field
        assert (
            await ops.client.get("/v1/webhook-subscriptions", headers=bearer(ADMIN))
        ).status_code == 200
