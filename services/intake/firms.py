"""Firms (intake owns them), the one contract term intake enforces, and their partner
keys (``access.credentials``, shared with every service: a key issued here works
everywhere at once; a revoked one stops everywhere within a second). A key's token is
shown once; only its SHA-256 is stored. Every issue and revocation is in the audit log."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import firm_terms, firms
from shared import audit, credentials
from shared.credentials import Caller, CredentialInfo, Issued
from shared.events.firms import DEFAULT_REPORTING_WINDOW_DAYS, ContractChanged

SERVICE = "intake"


async def create_firm(session: AsyncSession, caller: Caller, firm_id: str, name: str) -> bool:
    """Inside the caller's transaction. False when the firm already exists."""
    created = await session.execute(
        insert(firms)
        .values(firm_id=firm_id, name=name)
        .on_conflict_do_nothing()
        .returning(firms.c.firm_id)
    )
    if created.first() is None:
        return False
    await audit.record(
        session,
        caller,
        service=SERVICE,
        action="firm.created",
        entity_type="firm",
        entity_id=firm_id,
        before=None,
        after={"firm_id": firm_id, "name": name},
    )
    return True


async def get_firm(session: AsyncSession, firm_id: str) -> Any:
    return (await session.execute(select(firms).where(firms.c.firm_id == firm_id))).first()


async def list_keys(session: AsyncSession, firm_id: str) -> list[CredentialInfo]:
    return await credentials.list_credentials(session, firm_id=firm_id)


async def issue_key(
    session: AsyncSession, caller: Caller, firm_id: str, name: str
) -> Issued | None:
    """Inside the caller's transaction: a new key for an existing firm (None when there is
    no such firm)."""
    if await get_firm(session, firm_id) is None:
        return None
    issued = await credentials.issue(
        session, name=name, scopes=("partner",), created_by=caller.actor, firm_id=firm_id
    )
    await audit.record(
        session,
        caller,
        service=SERVICE,
        action="key.issued",
        entity_type="firm",
        entity_id=firm_id,
        before=None,
        after={"key_id": issued.key_id, "name": name},
    )
    return issued


async def revoke_key(
    session: AsyncSession, caller: Caller, firm_id: str, key_id: str
) -> Literal["revoked", "already revoked", "unknown"]:
    """Inside the caller's transaction: revoke one of the firm's keys."""
    outcome = await credentials.revoke(session, key_id, revoked_by=caller.actor, firm_id=firm_id)
    if outcome == "revoked":
        await audit.record(
            session,
            caller,
            service=SERVICE,
            action="key.revoked",
            entity_type="firm",
            entity_id=firm_id,
            before={"key_id": key_id, "revoked": False},
            after={"key_id": key_id, "revoked": True},
        )
    return outcome


async def reporting_window_days(session: AsyncSession, firm_id: str) -> int:
    """How many days back the firm may date what it reports (its contract's term, as
    credit last published it; the contracts' default before any)."""
    days = await session.scalar(
        select(firm_terms.c.reporting_window_days).where(firm_terms.c.firm_id == firm_id)
    )
    return DEFAULT_REPORTING_WINDOW_DAYS if days is None else int(days)


async def keep_contract_terms(session: AsyncSession, change: ContractChanged) -> None:
    """Keep the term intake enforces in step with the firm's latest contract version."""
    values = {
        "contract_version": change.version,
        "reporting_window_days": change.reporting_window_days,
        "changed_at": change.changed_at,
    }
    statement = insert(firm_terms).values(firm_id=change.firm_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[firm_terms.c.firm_id],
            set_=values,
            where=firm_terms.c.contract_version < statement.excluded.contract_version,
        )
    )
