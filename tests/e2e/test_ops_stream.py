"""The ops event stream end to end: Server-Sent Events from the running ops service, fed
by its consumer of every topic. Resuming from Last-Event-ID replays exactly what was
missed, then follows live; filters narrow it; a partner sees only its own firm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events.envelope import Envelope
from tests.support.stack import Stack

RECEIVED = "leadflow.lead.received.v1"


@dataclass(frozen=True)
class Sse:
    id: int
    event: str
    data: dict[str, Any]


async def sse_events(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse a text/event-stream response into events (comments and pings skipped)."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields and "id" in fields:
                yield Sse(int(fields["id"]), fields.get("event", ""), json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def collect(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: Any, count: int
) -> list[Sse]:
    got: list[Sse] = []
    async with client.stream("GET", url, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in sse_events(response):
            got.append(event)
            if len(got) == count:
                break
    return got


async def stream_status(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> int:
    """The status a stream request gets (without waiting for a stream's end: it has none)."""
    async with client.stream("GET", url, headers=headers, params=params) as response:
        if response.status_code != 200:
            await response.aread()
        return response.status_code


async def new_partner(client: httpx.AsyncClient, stack: Stack) -> tuple[str, dict[str, str]]:
    """A firm and a key that ops already knows (its copy of the keys comes from a topic)."""
    firm = f"firm-{secrets.token_hex(3)}"
    urls = stack.urls
    made = await client.post(
        f"{urls['intake']}/v1/firms", json={"firm_id": firm, "name": firm}, headers=stack.auth
    )
    made.raise_for_status()
    key = await client.post(f"{urls['intake']}/v1/firms/{firm}/keys", headers=stack.auth)
    key.raise_for_status()
    partner = {"Authorization": f"Bearer {key.json()['token']}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if await stream_status(client, f"{urls['ops']}/v1/events/stream", partner) == 200:
            return firm, partner
        await asyncio.sleep(0.3)
    raise AssertionError("ops never learned the partner key")


async def partner_lead(client: httpx.AsyncClient, stack: Stack, partner: dict[str, str]) -> str:
    answer = await client.post(
        f"{stack.urls['intake']}/v1/partner/leads",
        json={"email": f"cio@{secrets.token_hex(4)}-prospect.com", "company": "Prospect"},
        headers=partner,
    )
    assert answer.status_code in (201, 202), answer.text
    return str(answer.json()["results"][0]["id"])


async def logged_seq(client: httpx.AsyncClient, stack: Stack, lead_id: str) -> int:
    """The stream position of the lead's received event, once ops has logged it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        timeline = await client.get(f"{stack.urls['ops']}/v1/leads/{lead_id}", headers=stack.auth)
        if timeline.status_code == 200:
            for entry in timeline.json()["events"]:
                if entry["type"] == RECEIVED:
                    return int(entry["seq"])
        await asyncio.sleep(0.2)
    raise AssertionError(f"ops never logged lead {lead_id}")


async def test_resume_replays_exactly_the_missed_events_then_follows_live(stack: Stack) -> None:
    stream = f"{stack.urls['ops']}/v1/events/stream"
    async with httpx.AsyncClient(timeout=30) as client:
        firm, partner = await new_partner(client, stack)
        seen_last = await logged_seq(client, stack, await partner_lead(client, stack, partner))
        missed = [await partner_lead(client, stack, partner) for _ in range(2)]
        for lead in missed:
            await logged_seq(client, stack, lead)
        params = {"type": RECEIVED, "firm": firm}
        headers = {**stack.auth, "Last-Event-ID": str(seen_last)}

        async def live_lead() -> str:
            await asyncio.sleep(1.5)  # after the replay, while the stream is open
            return await partner_lead(client, stack, partner)

        later = asyncio.create_task(live_lead())
        events = await asyncio.wait_for(collect(client, stream, headers, params, 3), 60)
        live = await later
    assert [e.data["data"]["lead_id"] for e in events] == [*missed, live]
    assert all(e.event == RECEIVED and e.id > seen_last for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[0].data["id"]
    assert events[0].data["seq"] == events[0].id


async def test_query_resume_position_and_type_prefix_filter(stack: Stack) -> None:
    stream = f"{stack.urls['ops']}/v1/events/stream"
    async with httpx.AsyncClient(timeout=30) as client:
        firm, partner = await new_partner(client, stack)
        lead = await partner_lead(client, stack, partner)
        position = await logged_seq(client, stack, lead) - 1
        # Both the routing decision and the credit decision of the lead, by prefix.
        params = {
            "type": "leadflow.lead.routed.v1,leadflow.credit",
            "firm": firm,
            "last_event_id": str(position),
        }
        events = await asyncio.wait_for(collect(client, stream, stack.auth, params, 2), 60)
    assert {e.event for e in events} == {"leadflow.lead.routed.v1", "leadflow.credit.decided.v1"}
    assert {e.data["data"]["lead_id"] for e in events} == {lead}


async def test_a_partner_sees_only_its_own_firm(stack: Stack) -> None:
    stream = f"{stack.urls['ops']}/v1/events/stream"
    async with httpx.AsyncClient(timeout=30) as client:
        firm, partner = await new_partner(client, stack)
        other_firm, other = await new_partner(client, stack)
        start = await logged_seq(client, stack, await partner_lead(client, stack, other))
        mine = await partner_lead(client, stack, partner)
        await logged_seq(client, stack, mine)
        headers = {**partner, "Last-Event-ID": str(start - 1)}
        events = await asyncio.wait_for(collect(client, stream, headers, {"type": RECEIVED}, 1), 60)
        assert [e.data["data"]["lead_id"] for e in events] == [mine]
        assert events[0].data["data"]["firm_id"] == firm

        # Its lead's routing decision (owners, accounts, other firms in the trace) is the
        # company's internals: asked for routing and credit, the partner gets credit only.
        asked = {"type": "leadflow.lead.routed.v1,leadflow.credit"}
        (decided,) = await asyncio.wait_for(collect(client, stream, headers, asked, 1), 60)
        assert decided.event == "leadflow.credit.decided.v1"
        assert decided.data["data"]["lead_id"] == mine

        refused = await client.get(stream, headers=partner, params={"firm": other_firm})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        nobody = await client.get(stream)
        assert nobody.status_code == 401
        assert nobody.headers["content-type"] == "application/problem+json"
        wrong = await client.get(stream, headers={"Authorization": "Bearer lf_0123456789abcdef_x"})
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({"type": "not a type!"}, {}, "type"),
        ({"firm": "x" * 101}, {}, "firm"),
        ({}, {"Last-Event-ID": "-3"}, "Last-Event-ID"),
        ({"last_event_id": "abc"}, {}, "last_event_id"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(
    stack: Stack, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{stack.urls['ops']}/v1/events/stream",
            params=params,
            headers={**stack.auth, **headers},
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == field


async def test_stream_keeps_idle_clients_alive_with_comments(stack: Stack) -> None:
    """The first thing a client gets is a comment (and the retry interval), at once."""
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream(
            "GET",
            f"{stack.urls['ops']}/v1/events/stream",
            headers=stack.auth,
            params={"type": "x.none.v1"},
        ) as response,
    ):
        first = ""
        with contextlib.suppress(StopAsyncIteration):
            first = await asyncio.wait_for(response.aiter_lines().__anext__(), 5)
    assert first.startswith(":") or first.startswith("retry")


async def test_an_event_type_ops_does_not_know_is_kept_streamed_and_told(stack: Stack) -> None:
    """A newer service's event on a catalog topic: logged with its topic and fields,
    streamed, shown in the lead's timeline with a generic line — never refused."""
    lead_id = str(uuid4())
    envelope = Envelope(
        source="/scoring",
        type="leadflow.lead.scored.v7",
        subject=f"lead/{lead_id}",
        partitionkey=lead_id,
        data={"lead_id": lead_id, "score": 87, "owner_id": "own-lee"},
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.infra.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait("leads.status", envelope.to_bytes(), key=lead_id.encode())
    finally:
        await producer.stop()
    params = {"type": "leadflow.lead.scored.v7", "last_event_id": "0"}
    async with httpx.AsyncClient(timeout=30) as client:
        stream = f"{stack.urls['ops']}/v1/events/stream"
        (event,) = await asyncio.wait_for(collect(client, stream, stack.auth, params, 1), 60)
        told = await client.get(f"{stack.urls['ops']}/v1/leads/{lead_id}", headers=stack.auth)
    assert (event.data["id"], event.data["topic"]) == (str(envelope.id), "leads.status")
    assert event.data["data"]["score"] == 87
    (entry,) = told.json()["events"]
    assert entry["summary"] == "leadflow.lead.scored.v7 from scoring."
