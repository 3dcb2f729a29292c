"""The audit log: every admin write (a rule set created or activated; an account, owner,
team or territory changed; a firm assignment; a contract; a dispute settled; a credential
issued or revoked; a form or webhook source configured), with who did it, when, and the
entity before and after. Written in the transaction of the write itself, so an entry
exists exactly when the change does; read by entity, actor or lead (ops' API, a lead's
timeline)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access_tables import audit_log
from shared.credentials import Caller

Snapshot = Mapping[str, Any] | BaseModel | None


def _json(value: Snapshot) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value) if value is not None else None


async def record(
    session: AsyncSession,
    caller: Caller,
    *,
    service: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Snapshot,
    after: Snapshot,
    lead_id: UUID | None = None,
) -> None:
    """Inside the write's transaction: one entry. ``before``/``after`` are the entity as
    the API shows it (None: it did not exist / no longer does)."""
    await session.execute(
        audit_log.insert().values(
            actor=caller.actor,
            actor_key_id=caller.key_id,
            service=service,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id[:200],
            lead_id=lead_id,
            before=_json(before),
            after=_json(after),
        )
    )


@dataclass(frozen=True)
class AuditQuery:
    entity_type: str | None = None
    entity_id: str | None = None
    actor_key_id: str | None = None
    lead_id: UUID | None = None
    before_id: int | None = None  # paging: entries older than this one
    limit: int = 100


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_key_id: str | None
    service: str
    action: str
    entity_type: str
    entity_id: str
    lead_id: UUID | None
    before: Any
    after: Any


async def entries(session: AsyncSession, query: AuditQuery) -> list[AuditEntry]:
    """Newest first."""
    where = []
    if query.entity_type is not None:
        where.append(audit_log.c.entity_type == query.entity_type)
    if query.entity_id is not None:
        where.append(audit_log.c.entity_id == query.entity_id)
    if query.actor_key_id is not None:
        where.append(audit_log.c.actor_key_id == query.actor_key_id)
    if query.lead_id is not None:
        where.append(audit_log.c.lead_id == query.lead_id)
    if query.before_id is not None:
        where.append(audit_log.c.id < query.before_id)
    rows = await session.execute(
        select(audit_log).where(*where).order_by(audit_log.c.id.desc()).limit(query.limit)
    )
    return [AuditEntry.model_validate(dict(r._mapping)) for r in rows]
