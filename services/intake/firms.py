"""Firms and their partner API keys (intake owns them). A key's token is shown once; only
its SHA-256 is stored, and every issue or revocation is published as
``leadflow.firm.key_changed.v1`` so other services keep their own copy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import firms, partner_keys
from shared.auth import hash_token
from shared.events.envelope import utcnow
from shared.events.firms import PartnerKeyChanged
from shared.outbox import Outbox
from shared.partners import new_partner_key


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    firm_id: str
    token: str
    issued_at: datetime


async def create_firm(session: AsyncSession, firm_id: str, name: str) -> bool:
    """False when the firm already exists."""
    async with session.begin():
        created = await session.execute(
            insert(firms)
            .values(firm_id=firm_id, name=name)
            .on_conflict_do_nothing()
            .returning(firms.c.firm_id)
        )
        return created.first() is not None


async def get_firm(session: AsyncSession, firm_id: str) -> Any:
    return (await session.execute(select(firms).where(firms.c.firm_id == firm_id))).first()


async def list_keys(session: AsyncSession, firm_id: str) -> list[Any]:
    query = (
        select(partner_keys.c.key_id, partner_keys.c.revoked, partner_keys.c.changed_at)
        .where(partner_keys.c.firm_id == firm_id)
        .order_by(partner_keys.c.changed_at)
    )
    return list((await session.execute(query)).all())


async def issue_key(session: AsyncSession, outbox: Outbox, firm_id: str) -> IssuedKey | None:
    """A new key for an existing firm (None when there is no such firm)."""
    key_id, token = new_partner_key()
    now = utcnow()
    async with session.begin():
        if await get_firm(session, firm_id) is None:
            return None
        digest = hash_token(token)
        await session.execute(
            insert(partner_keys).values(
                key_id=key_id, firm_id=firm_id, token_sha256=digest, revoked=False, changed_at=now
            )
        )
        await outbox.add(
            session,
            PartnerKeyChanged(
                key_id=key_id, firm_id=firm_id, token_sha256=digest, revoked=False, changed_at=now
            ),
        )
    return IssuedKey(key_id, firm_id, token, now)


async def revoke_key(session: AsyncSession, outbox: Outbox, firm_id: str, key_id: str) -> bool:
    """False when the firm has no such key. Revoking twice is harmless."""
    now = utcnow()
    async with session.begin():
        row = (
            await session.execute(
                update(partner_keys)
                .where(partner_keys.c.key_id == key_id, partner_keys.c.firm_id == firm_id)
                .values(revoked=True, changed_at=now)
                .returning(partner_keys.c.token_sha256)
            )
        ).first()
        if row is None:
            return False
        await outbox.add(
            session,
            PartnerKeyChanged(
                key_id=key_id,
                firm_id=firm_id,
                token_sha256=row.token_sha256,
                revoked=True,
                changed_at=now,
            ),
        )
    return True
