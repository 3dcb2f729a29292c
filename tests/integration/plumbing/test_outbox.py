"""The outbox relay against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from uuid import UUID, uuid4

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import Select, func, select

from shared.db import SessionFactory, asyncpg_dsn
from shared.events.leads import LeadReceived
from shared.events.topics import LEADS_RECEIVED, in_lane
from shared.kafka import make_producer
from shared.outbox import Outbox, Outgoing, Relay
from tests.support.infra import Infra
from tests.support.kafka import read_until


def lead(n: int) -> LeadReceived:
    return LeadReceived(
        lead_id=uuid4(),
        received_at=datetime.now(UTC),
        channel="api",
        source="test",
        email=f"p{n}@example.com",
        email_domain="example.com",
    )


async def test_relay_publishes_committed_rows_in_order_and_marks_them_sent(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    outbox = Outbox(scratch_schema, source="/test")
    events = [lead(n) for n in range(20)]
    async with sessions() as session, session.begin():
        for event in events:
            await outbox.add(session, event)
    async with sessions() as session:
        await session.begin()
        await outbox.add(session, lead(99))
        await session.rollback()  # a rolled-back event is never published

    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    try:
        relay = Relay(outbox, sessions, producer, dsn=asyncpg_dsn(infra.database_url))
        assert await relay.publish_pending() == 20
        assert await relay.publish_pending() == 0
    finally:
        await producer.stop()

    wanted = {e.lead_id for e in events}
    seen = await read_until(
        infra.bootstrap_servers,
        "leads.received",
        lambda got: wanted <= {UUID(e.data["lead_id"]) for e in got},
    )
    ours = [UUID(e.data["lead_id"]) for e in seen if e.source == "/test"]
    ours = [i for i in ours if i in wanted]
    assert sorted(ours) == sorted(wanted)
    async with sessions() as session:
        unsent = await session.scalar(select(func.count()).where(outbox.table.c.sent_at.is_(None)))
    assert unsent == 0


async def test_the_live_lane_relay_never_waits_for_a_bulk_backlog(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    """A live event written after a thousand bulk ones goes out at once, by the live lane's
    relay, even while the bulk lane's relay holds its own lock; the bulk lane keeps its
    order."""
    outbox = Outbox(scratch_schema, source="/test")
    bulk_topic = in_lane(LEADS_RECEIVED, bulk=True)
    async with sessions() as session, session.begin():
        await outbox.add_all(session, [Outgoing(lead(n), None, bulk_topic) for n in range(1200)])
    async with sessions() as session, session.begin():
        await outbox.add(session, lead(-1))

    def sent_topics() -> Select[str, int]:  # (topic, id)
        table = outbox.table
        return select(table.c.topic, table.c.id).where(table.c.sent_at.is_not(None))

    producer = make_producer(infra.settings(), client_id="test")
    await producer.start()
    dsn = asyncpg_dsn(infra.database_url)
    live = Relay(outbox, sessions, producer, dsn=dsn, batch_size=500)
    bulk = Relay(outbox, sessions, producer, dsn=dsn, batch_size=500, bulk=True)
    try:
        async with sessions() as session, session.begin():
            # the bulk relay's lock held elsewhere (a bulk batch in flight): live goes on
            await session.execute(select(func.pg_advisory_xact_lock(outbox.bulk_lock_key)))
            assert await live.publish_pending() == 1
            assert await bulk.publish_pending() == 0
        async with sessions() as session:
            assert [t for t, _ in (await session.execute(sent_topics())).all()] == [
                "leads.received"
            ]
        assert await live.publish_pending() == 0
        assert await bulk.publish_pending() == 500
        async with sessions() as session:
            ids = [i for t, i in (await session.execute(sent_topics())).all() if t == bulk_topic]
            first = await session.scalar(
                select(func.min(outbox.table.c.id)).where(outbox.table.c.topic == bulk_topic)
            )
        assert sorted(ids) == list(range(first or 0, (first or 0) + 500))  # the first 500
        while await bulk.publish_pending():
            pass
    finally:
        await producer.stop()


async def test_events_added_together_wake_the_idle_relay_at_commit(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    """``add_all`` (the consumers' and intake's path) tells the relay as ``add`` does: with
    its safety sweep a minute away, only the NOTIFY can publish these within seconds."""
    topic = f"wake.{secrets.token_hex(3)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    outbox = Outbox(scratch_schema, source="/test")
    producer = make_producer(infra.settings(), client_id="test-wake")
    await producer.start()
    relay = Relay(outbox, sessions, producer, dsn=asyncpg_dsn(infra.database_url), idle_wakeup_s=60)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(1)  # the relay is listening, idle
        events = [lead(n) for n in range(3)]
        async with sessions() as session, session.begin():
            await outbox.add_all(session, [Outgoing(e, None, topic) for e in events])
        got = await read_until(infra.bootstrap_servers, topic, lambda e: len(e) >= 3, timeout_s=10)
        assert [LeadReceived.from_envelope(e).lead_id for e in got] == [e.lead_id for e in events]
    finally:
        stop.set()
        await task
        await producer.stop()


async def test_relay_wakes_on_notify_and_survives_a_broker_outage(
    infra: Infra, sessions: SessionFactory, scratch_schema: str
) -> None:
    """Rows written while the broker is frozen are kept and published after it returns."""
    assert infra.kafka is not None, "needs the embedded broker to freeze it"
    topic = f"outage.{secrets.token_hex(3)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()

    outbox = Outbox(scratch_schema, source="/test")
    settings = infra.settings(kafka_request_timeout_s=2.0, kafka_send_timeout_s=3.0)
    producer = make_producer(settings, client_id="test-outage")
    await producer.start()
    relay = Relay(
        outbox,
        sessions,
        producer,
        dsn=asyncpg_dsn(infra.database_url),
        idle_wakeup_s=60,
        send_timeout_s=3.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        first = lead(1)
        async with sessions() as session, session.begin():
            await outbox.add_envelope(session, topic, first.envelope("/test"))
        # idle_wakeup_s is 60: only the NOTIFY can deliver this within the deadline
        got = await read_until(infra.bootstrap_servers, topic, lambda e: len(e) >= 1, timeout_s=15)
        assert len(got) == 1

        infra.kafka.freeze()
        try:
            later = [lead(n) for n in range(2, 7)]
            async with sessions() as session, session.begin():
                for event in later:
                    await outbox.add_envelope(session, topic, event.envelope("/test"))
            await asyncio.sleep(5)  # the relay fails and backs off meanwhile
        finally:
            infra.kafka.thaw()

        got = await read_until(infra.bootstrap_servers, topic, lambda e: len(e) >= 6, timeout_s=45)
        ids = [LeadReceived.from_envelope(e).lead_id for e in got]
        expected = [first.lead_id] + [e.lead_id for e in later]
        # at-least-once: a batch may be sent twice, but never out of order or missing
        deduped = list(dict.fromkeys(ids))
        assert deduped == expected
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await asyncio.wait_for(producer.stop(), 10)
