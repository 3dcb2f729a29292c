"""Partner (outside firm) API keys: ``Authorization: Bearer lf_<key id>_<secret>``.

Only the SHA-256 digest of a key is stored. Intake issues and revokes keys (it owns
them) and publishes ``leadflow.firm.key_changed.v1``; any other service with partner
endpoints keeps its own read-only copy of the same table from that topic
(``apply_key_change``). Each service has ``partner_keys`` in its own schema.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import hash_token
from shared.events.firms import PartnerKeyChanged
from shared.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="Partner firm API key")


@cache
def partner_keys_table(schema: str) -> Table:
    return Table(
        "partner_keys",
        MetaData(schema=schema),
        Column("key_id", String(40), primary_key=True),
        Column("firm_id", String(100), nullable=False, index=True),
        Column("token_sha256", String(64), nullable=False),
        Column("revoked", Boolean, nullable=False, server_default="false"),
        Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def new_partner_key() -> tuple[str, str]:
    """A new (key id, token). The token is shown once; store ``hash_token(token)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"lf_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "lf" or len(parts[1]) != 16:
        return None
    return parts[1]


async def firm_for_token(session: AsyncSession, schema: str, token: str) -> str | None:
    """The firm a valid, unrevoked key belongs to, or None. Constant-time digest compare."""
    key_id = key_id_of(token)
    if key_id is None:
        return None
    table = partner_keys_table(schema)
    row = (
        await session.execute(
            select(table.c.firm_id, table.c.token_sha256, table.c.revoked).where(
                table.c.key_id == key_id
            )
        )
    ).first()
    if row is None or row.revoked:
        return None
    return row.firm_id if hmac.compare_digest(hash_token(token), row.token_sha256) else None


async def key_in_force(session: AsyncSession, schema: str, key_id: str) -> bool:
    """Whether a key that was valid is still unrevoked: for long-lived connections (an
    event stream) opened with it, which must end when the key is revoked."""
    table = partner_keys_table(schema)
    revoked = await session.scalar(select(table.c.revoked).where(table.c.key_id == key_id))
    return revoked is False


async def apply_key_change(session: AsyncSession, schema: str, change: PartnerKeyChanged) -> None:
    """Keep this service's copy of a key in step with intake's (idempotent upsert)."""
    table = partner_keys_table(schema)
    values = {
        "key_id": change.key_id,
        "firm_id": change.firm_id,
        "token_sha256": change.token_sha256,
        "revoked": change.revoked,
        "changed_at": change.changed_at,
    }
    statement = insert(table).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["key_id"],
            set_=values,
            where=table.c.changed_at <= statement.excluded.changed_at,
        )
    )


def partner_dependency(
    schema: str, sessions_of: Callable[[Request], Callable[[], AsyncSession]]
) -> Callable[..., Awaitable[str]]:
    """A FastAPI dependency resolving the calling firm's id, or answering 401."""

    async def require_partner(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        if credentials is None:
            raise Problem(
                401, "A partner API key is required.", headers={"WWW-Authenticate": "Bearer"}
            )
        async with sessions_of(request)() as session:
            firm_id = await firm_for_token(session, schema, credentials.credentials)
        if firm_id is None:
            raise Problem(
                401, "The partner API key is not valid.", headers={"WWW-Authenticate": "Bearer"}
            )
        return firm_id

    return require_partner
