"""Notifications end to end in process: ops (its real lifespan and notifier) on the real
database, events kept by the real recording path, email to a real SMTP server (the mail
sink, aiosmtpd) and Slack messages to a real HTTP endpoint on a port of this machine."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from services.ops.notifier import Notifier
from services.ops.settings import OpsSettings
from shared.embedded import free_port
from shared.events.activities import MeetingUpdated
from shared.events.credit import CreditDecided, CreditState, Reason
from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.events.lifecycle import LeadSlaBreached
from shared.events.owners import OwnerChannels, OwnerUpdated
from shared.events.routing import AccountMatch, LeadRouted, OwnerRef
from tests.integration.ops.test_webhooks import Ops, keep, running_ops
from tests.support.credentials import ADMIN, READ, bearer
from tests.support.infra import Infra
from tests.support.notifications import (
    carried,
    mail_sink,
    refusing_mail_server,
    running_slack_hook,
)
from tests.support.webhooks import until

NOW = datetime.now(UTC)
ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "opens": "00:00:00",
          "closes": "23:59:59"}  # fmt: skip
PUBLIC = "http://ops.example.test"


def mail_settings(port: int, **more: object) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "notify_poll_s": 0.05,
        "notify_digest_s": 0,
        "notify_first_retry_s": 0.05,
        "notify_longest_retry_s": 0.2,
        "notify_ops_email": "ops@example.com",
        "public_url": PUBLIC,
        **more,
    }


def owner(
    owner_id: str,
    *,
    email: str | None = None,
    slack: str | None = None,
    manager: str | None = None,
    hours: dict[str, Any] | None = None,
) -> tuple[Envelope, str]:
    return OwnerUpdated(
        owner_id=owner_id,
        name=owner_id.split("-", maxsplit=1)[0].title(),
        role="AE",
        active=True,
        manager_id=manager,
        business_hours=hours or ALWAYS,
        notify=OwnerChannels(email=email, slack_webhook_url=slack),
        updated_at=NOW,
    ).envelope("/router"), "owners.updated"


def lead(name: str = "Jordan Lee") -> tuple[UUID, tuple[Envelope, str]]:
    lead_id = uuid4()
    envelope = LeadReceived(
        lead_id=lead_id,
        received_at=NOW,
        channel="api",
        source="website",
        email=f"jordan-{secrets.token_hex(3)}@walmart.com",
        email_domain="walmart.com",
        name=name,
        company="Walmart Inc.",
    ).envelope("/intake")
    return lead_id, (envelope, "leads.received")


def routed_to(lead_id: UUID, owner_id: str, **more: Any) -> tuple[Envelope, str]:
    return LeadRouted(
        lead_id=lead_id,
        revision=more.pop("revision", 1),
        lead_received_at=NOW,
        decided_at=NOW,
        channel="api",
        account=AccountMatch(account_id="acc-walmart", name="Walmart", method="domain", score=1),
        owner=OwnerRef(owner_id=owner_id, name=owner_id, role="AE"),
        queue=None,
        flags=[],
        firm_assignment=None,
        ruleset_version="test",
        trace=[],
        explanation=f"Routed to {owner_id}: the account's owner.",
        **more,
    ).envelope("/router"), "leads.routed"


async def sent(ops: Ops, recipient: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def settled() -> bool:
        nonlocal found
        answer = await ops.client.get(
            "/v1/notifications", params={"recipient_id": recipient}, headers=bearer(ADMIN)
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()["notifications"]
        return bool(sum(n["status"] == "sent" for n in found) == count)

    await until(settled)
    return found


async def test_a_new_lead_reaches_its_owner_by_email_and_slack_with_the_reason_and_a_link(
    infra: Infra,
) -> None:
    dana = f"dana-{secrets.token_hex(3)}"
    async with running_slack_hook() as hook:
        with mail_sink() as (sink, inbox):
            async with running_ops(infra, **mail_settings(sink.port)) as ops:
                lead_id, received = lead()
                await keep(
                    ops.sessions,
                    owner(dana, email=f"{dana}@example.com", slack=hook.url),
                    received,
                    routed_to(lead_id, dana),
                )
                mine = f"{dana}@example.com"
                await until(lambda: len(inbox.to(mine)) == 1 and len(hook.posts) == 1)
                listed = await sent(ops, dana, 2)
                readers = await ops.client.get("/v1/notifications", headers=bearer(READ))
    (mail, _), *others = inbox.to(mine)
    assert others == []
    assert mail["Subject"] == "New lead: Jordan Lee (Walmart Inc.)"
    body = mail.get_content()
    assert f"Routed to {dana}: the account's owner." in body
    assert f"{PUBLIC}/#/leads/{lead_id}" in body
    assert len(carried(mail)) == 1
    post = hook.posts[0]
    assert post["text"] == "New lead: Jordan Lee (Walmart Inc.)"
    section = post["blocks"][0]
    assert "Routed to" in section["text"]["text"]
    assert section["accessory"]["url"] == f"{PUBLIC}/#/leads/{lead_id}"
    assert {n["channel"] for n in listed} == {"email", "slack"}
    slack_row = next(n for n in listed if n["channel"] == "slack")
    assert "secret" not in slack_row["address"]  # the webhook's path is its secret
    assert readers.status_code == 403  # addresses are for admins


async def test_a_burst_becomes_one_digest_per_interval_and_each_lead_is_told_once(
    infra: Infra,
) -> None:
    lee = f"lee-{secrets.token_hex(3)}"
    with mail_sink() as (sink, inbox):
        async with running_ops(infra, **mail_settings(sink.port, notify_digest_s=1.5)) as ops:
            await keep(ops.sessions, owner(lee, email=f"{lee}@example.com"))
            first_id, first = lead("First")
            await keep(ops.sessions, first, routed_to(first_id, lee))
            mine = f"{lee}@example.com"
            await until(lambda: len(inbox.to(mine)) == 1)  # the first goes at once
            burst = [lead(f"Lead {n}") for n in range(12)]
            for lead_id, received in burst:
                await keep(ops.sessions, received, routed_to(lead_id, lee))
            await sent(ops, lee, 13)
            await asyncio.sleep(0.3)  # nothing more comes
    messages = inbox.to(mine)
    subjects = [m["Subject"] for m, _ in messages]
    assert subjects[0] == "New lead: First (Walmart Inc.)"
    assert len(messages) == 2, subjects  # the burst: one digest at the interval's end
    assert subjects[1] == "12 updates from Leadflow"
    assert sorted(inbox.keys(mine)) == sorted(set(inbox.keys(mine)))  # nobody told twice
    assert len(inbox.keys(mine)) == 13
    gap = messages[1][1] - messages[0][1]
    assert gap >= 1.4  # paced: one message per interval


async def test_quiet_outside_business_hours_but_a_breach_reaches_the_manager_at_once(
    infra: Infra,
) -> None:
    tag = secrets.token_hex(3)
    ana, mia = f"ana-{tag}", f"mia-{tag}"
    tomorrow = (NOW + timedelta(days=1)).strftime("%a").lower()
    closed_today = {"days": [tomorrow], "opens": "09:00:00", "closes": "17:00:00"}
    with mail_sink() as (sink, inbox):
        async with running_ops(infra, **mail_settings(sink.port)) as ops:
            lead_id, received = lead()
            breach = LeadSlaBreached(
                lead_id=lead_id,
                account_id="acc-walmart",
                owner_id=ana,
                revision=1,
                routed_at=NOW,
                due_at=NOW,
                sla_name="accept-4h",
                sla_minutes=240,
                occurred_at=NOW,
                manager_id=mia,
            ).envelope("/router")
            await keep(
                ops.sessions,
                owner(mia, email=f"{mia}@example.com", hours=closed_today),
                owner(ana, email=f"{ana}@example.com", manager=mia, hours=closed_today),
                received,
                routed_to(lead_id, ana),
                (breach, "leads.status"),
            )
            await until(lambda: len(inbox.to(f"{mia}@example.com")) == 1)
            held = await ops.client.get(
                "/v1/notifications", params={"recipient_id": ana}, headers=bearer(ADMIN)
            )
    ((breach_mail, _),) = inbox.to(f"{mia}@example.com")
    assert breach_mail["Subject"].startswith("SLA breached: Ana has not taken Jordan")
    assert inbox.to(f"{ana}@example.com") == []
    (waiting,) = held.json()["notifications"]
    assert waiting["status"] == "pending"  # Ana's new lead waits for her day to open
    opens = datetime.fromisoformat(waiting["next_attempt_at"])
    assert opens > NOW
    assert opens.strftime("%a").lower() == tomorrow


async def test_smtp_down_is_retried_until_it_answers_and_nothing_is_lost(infra: Infra) -> None:
    sam = f"sam-{secrets.token_hex(3)}"
    port = free_port()
    async with running_ops(infra, **mail_settings(port)) as ops:
        lead_id, received = lead()
        await keep(ops.sessions, owner(sam, email=f"{sam}@example.com"), received)
        await keep(ops.sessions, routed_to(lead_id, sam))

        async def failed_once() -> bool:
            answer = await ops.client.get(
                "/v1/notifications", params={"recipient_id": sam}, headers=bearer(ADMIN)
            )
            found = answer.json()["notifications"]
            return bool(found) and found[0]["attempts"] >= 1 and bool(found[0]["last_error"])

        await until(failed_once)
        with mail_sink(port) as (_sink, inbox):
            await until(lambda: len(inbox.to(f"{sam}@example.com")) == 1)
            (row,) = await sent(ops, sam, 1)
    assert row["attempts"] >= 2


async def test_ops_hears_of_a_dispute_once_and_an_owner_of_a_meeting_on_their_lead(
    infra: Infra,
) -> None:
    kim = f"kim-{secrets.token_hex(3)}"
    with mail_sink() as (sink, inbox):
        async with running_ops(infra, **mail_settings(sink.port)) as ops:
            lead_id, received = lead()

            def decision(revision: int, state: CreditState) -> tuple[Envelope, str]:
                return CreditDecided(
                    lead_id=lead_id,
                    revision=revision,
                    routing_revision=1,
                    firm_id="acme-outreach",
                    state=state,
                    amount=Decimal("0"),
                    currency="USD",
                    policy_version="v1",
                    reasons=[
                        Reason(rule="dispute", sentence=f"Disputed by the firm ({revision}).")
                    ],
                    decided_at=NOW,
                ).envelope("/credit"), "credits.decided"

            meeting = MeetingUpdated(
                meeting_id=uuid4(),
                firm_id="acme-outreach",
                lead_id=lead_id,
                contact_email="jordan@walmart.com",
                email_domain="walmart.com",
                status="booked",
                scheduled_for=NOW + timedelta(days=2),
                occurred_at=NOW,
                reported_at=NOW,
                reported_by="firm",
            ).envelope("/intake")
            await keep(
                ops.sessions,
                owner(kim, email=f"{kim}@example.com"),
                received,
                routed_to(lead_id, kim),
                decision(1, "credited"),
                decision(2, "disputed"),
                decision(3, "disputed"),  # still disputed: not a second dispute
                (meeting, "meetings.updated"),
            )
            # (ops may hear of earlier tests' events too: only this lead's count)
            await until(lambda: len(inbox.about(str(lead_id))) == 3)  # no digests: each alone
            await asyncio.sleep(0.3)
    by_to: dict[str, list[str]] = {}
    for mail, _ in inbox.about(str(lead_id)):
        by_to.setdefault(str(mail["To"]), []).append(str(mail["Subject"]))
    assert by_to["ops@example.com"] == [
        "Dispute opened by acme-outreach: Jordan Lee (Walmart Inc.)"
    ]
    assert sorted(by_to[f"{kim}@example.com"]) == [
        "Meeting booked: Jordan Lee (Walmart Inc.)",
        "New lead: Jordan Lee (Walmart Inc.)",
    ]
    dispute = next(m for m, _ in inbox.about(str(lead_id)) if m["To"] == "ops@example.com")
    assert "Disputed by the firm (2)." in dispute.get_content()


async def test_two_notifiers_at_once_tell_each_event_once(infra: Infra) -> None:
    """Two ops instances on one database: each notification is sent by one of them."""
    tag = secrets.token_hex(3)
    owners = [f"o{n}-{tag}" for n in range(5)]
    with mail_sink() as (sink, inbox):
        async with running_ops(infra, **mail_settings(sink.port)) as ops:
            settings = OpsSettings(**mail_settings(sink.port))  # type: ignore[arg-type]
            second = Notifier(ops.sessions, settings)
            stop = asyncio.Event()
            running = asyncio.create_task(second.run(stop))
            try:
                await keep(ops.sessions, *(owner(o, email=f"{o}@example.com") for o in owners))
                leads = [lead(f"L{n}") for n in range(40)]
                for n, (lead_id, received) in enumerate(leads):
                    await keep(ops.sessions, received, routed_to(lead_id, owners[n % 5]))
                addresses = [f"{o}@example.com" for o in owners]
                await until(lambda: len(inbox.keys(*addresses)) >= 40)
                await asyncio.sleep(0.5)
            finally:
                stop.set()
                await running
    keys = inbox.keys(*addresses)
    assert len(keys) == 40
    assert len(set(keys)) == 40


async def test_a_retried_message_is_the_same_message_not_a_new_digest(infra: Infra) -> None:
    """A message the SMTP server did not take goes again as it was (same Message-ID, same
    notifications), though more came for the recipient meanwhile: a receiver that drops
    repeats by Message-ID never sees a notification twice."""
    eve = f"eve-{secrets.token_hex(3)}"
    port = free_port()
    async with running_ops(infra, **mail_settings(port, notify_digest_s=60)) as ops:
        first_id, first = lead("First")
        await keep(ops.sessions, owner(eve, email=f"{eve}@example.com"), first)
        routed_first = routed_to(first_id, eve)
        await keep(ops.sessions, routed_first)

        async def listed() -> list[dict[str, Any]]:
            answer = await ops.client.get(
                "/v1/notifications", params={"recipient_id": eve}, headers=bearer(ADMIN)
            )
            return list(answer.json()["notifications"])

        async def tried() -> bool:
            found = await listed()
            return bool(found) and found[0]["attempts"] >= 1

        await until(tried)
        second_id, second = lead("Second")  # comes while the first waits for its retry
        await keep(ops.sessions, second, routed_to(second_id, eve))
        with mail_sink(port) as (_sink, inbox):
            await until(lambda: len(inbox.to(f"{eve}@example.com")) == 1)
            await asyncio.sleep(0.5)
            rows = {n["title"]: n for n in await listed()}
    ((mail, _),) = inbox.to(f"{eve}@example.com")
    first_row = rows["New lead: First (Walmart Inc.)"]
    assert carried(mail) == [f"{routed_first[0].id}:assigned"]  # the second not in it
    assert mail["Message-ID"] == first_row["message_id"]
    assert first_row["status"] == "sent"
    assert rows["New lead: Second (Walmart Inc.)"]["status"] == "pending"  # the pace's


async def test_a_mailbox_that_does_not_exist_fails_at_once_and_a_refused_slack_target_too(
    infra: Infra,
) -> None:
    """A 5xx answer (no such mailbox) is not retried for a day; nor is a Slack URL that
    production settings may not post to (plain http, a private address)."""
    tag = secrets.token_hex(3)
    ghost, local = f"nobody-{tag}", f"loc-{tag}"
    with refusing_mail_server() as port:
        settings = mail_settings(port, webhook_allow_private_targets=False)
        async with running_ops(infra, **settings) as ops:
            lead_id, received = lead()
            await keep(
                ops.sessions,
                owner(ghost, email=f"{ghost}@example.com"),
                owner(local, slack="http://127.0.0.1:9/services/x"),
                received,
                routed_to(lead_id, ghost),
                routed_to(lead_id, local, revision=2),
            )

            async def failed(recipient: str) -> dict[str, Any] | None:
                answer = await ops.client.get(
                    "/v1/notifications",
                    params={"recipient_id": recipient, "status": "failed"},
                    headers=bearer(ADMIN),
                )
                found = answer.json()["notifications"]
                return found[0] if found else None

            async def both_failed() -> bool:
                return await failed(ghost) is not None and await failed(local) is not None

            await until(both_failed)
            mail_row, slack_row = await failed(ghost), await failed(local)
    assert mail_row is not None
    assert slack_row is not None
    assert mail_row["attempts"] == 1
    assert "550" in mail_row["last_error"]
    assert slack_row["attempts"] == 1
    assert slack_row["last_error"].startswith("target refused")
