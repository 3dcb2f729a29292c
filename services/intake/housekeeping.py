"""Forgetting what no longer protects anything: idempotency keys after
``INTAKE_IDEMPOTENCY_TTL_HOURS`` (a client retries within minutes, not days) and webhook
receipts after ``INTAKE_WEBHOOK_RECEIPT_TTL_HOURS`` (a replay older than the 5-minute
signature tolerance is refused by its timestamp anyway)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from sqlalchemy import delete

from services.intake.settings import IntakeSettings
from services.intake.tables import idempotency_keys, webhook_receipts
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.observability import get_logger
from shared.service import Runtime

log = get_logger(__name__)


async def purge_once(sessions: SessionFactory, own: IntakeSettings) -> tuple[int, int]:
    now = utcnow()
    async with sessions() as session, session.begin():
        keys = await session.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.created_at < now - timedelta(hours=own.idempotency_ttl_hours)
            )
        )
        receipts = await session.execute(
            delete(webhook_receipts).where(
                webhook_receipts.c.received_at
                < now - timedelta(hours=own.webhook_receipt_ttl_hours)
            )
        )
    return keys.rowcount or 0, receipts.rowcount or 0  # type: ignore[attr-defined]


async def purge_forever(runtime: Runtime, own: IntakeSettings, every_s: float = 600) -> None:
    while not runtime.stop.is_set():
        try:
            keys, receipts = await purge_once(runtime.sessions, own)
            if keys or receipts:
                log.info("purged", idempotency_keys=keys, webhook_receipts=receipts)
        except Exception as exc:  # the database may be down; try again next round
            log.warning("purge_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), every_s)
