"""Old idempotency keys and webhook receipts are purged; recent ones stay."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import insert, select

from services.intake.housekeeping import purge_once
from services.intake.tables import idempotency_keys, webhook_receipts
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from tests.integration.intake.conftest import intake_settings


async def test_purge_forgets_only_what_is_old(sessions: SessionFactory) -> None:
    tag = secrets.token_hex(4)
    old, new = utcnow() - timedelta(hours=25), utcnow()
    async with sessions() as session, session.begin():
        for name, at in (("old", old), ("new", new)):
            await session.execute(
                insert(idempotency_keys).values(
                    caller=tag, key=name, request_sha256="0" * 64, created_at=at
                )
            )
            await session.execute(
                insert(webhook_receipts).values(
                    source=tag, webhook_id=name, status=200, response={}, received_at=at
                )
            )
    await purge_once(sessions, intake_settings())
    async with sessions() as session:
        keys = (
            await session.execute(
                select(idempotency_keys.c.key).where(idempotency_keys.c.caller == tag)
            )
        ).scalars()
        receipts = (
            await session.execute(
                select(webhook_receipts.c.webhook_id).where(webhook_receipts.c.source == tag)
            )
        ).scalars()
        assert list(keys) == ["new"]
        assert list(receipts) == ["new"]
