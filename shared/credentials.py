"""Named credentials: who may call a service, with which scopes, and who they are in the
audit log. One table (``access.credentials``) every service reads, so a key issued works
everywhere at once and a revoked one stops everywhere within ``CACHE_S``.

A token is ``lf_<key id>_<secret>``, shown once when issued; only its SHA-256 is stored
and a presented token is compared to it in constant time. Kinds:

- an ops credential carries scopes: ``admin`` (rules, accounts, owners, teams,
  territories, contracts, firms, keys, disputes; implies every other), ``sales`` (stage
  moves and meeting outcomes; implies read), ``submit`` (server-to-server lead
  submission and imports), ``read`` (dashboard, stream, reports, lookups);
- a firm's partner key carries the firm and the ``partner`` scope only.

The actor of every write is the credential (``Caller.actor``), never a request field.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access_tables import credentials
from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.problems import Problem

Scope = Literal["admin", "sales", "submit", "read", "partner"]
OPS_SCOPES: tuple[Scope, ...] = ("admin", "sales", "submit", "read")
IMPLIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "sales", "submit", "read"}),
    "sales": frozenset({"sales", "read"}),
    "submit": frozenset({"submit"}),
    "read": frozenset({"read"}),
    "partner": frozenset({"partner"}),
}
CACHE_S = 0.5
"""How long a verified credential is trusted without reading it again: a revocation takes
effect at every instance of every service within this (well under a second)."""

_bearer = HTTPBearer(auto_error=False, description="A Leadflow credential (lf_<key id>_<secret>)")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_id_of(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "lf" or len(parts[1]) != 16:
        return None
    return parts[1]


def new_token() -> tuple[str, str]:
    """A new (key id, token). Store only ``hash_token(token)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"lf_{key_id}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class Caller:
    """A verified credential."""

    key_id: str
    name: str
    scopes: frozenset[str]
    firm_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log and events name who did it."""
        return f"{self.name} ({self.key_id})"

    def may(self, scope: str) -> bool:
        return any(scope in IMPLIES.get(s, frozenset()) for s in self.scopes)


@dataclass(frozen=True)
class Issued:
    key_id: str
    token: str
    name: str
    scopes: tuple[str, ...]
    firm_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class CredentialInfo:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    firm_id: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None


def check_scopes(scopes: Iterable[str], firm_id: str | None) -> tuple[str, ...]:
    """The scopes a new credential may carry: a firm's key ``partner`` only, an ops
    credential one or more of ``OPS_SCOPES``. ValueError says what is wrong."""
    wanted = tuple(dict.fromkeys(scopes))
    if firm_id is not None:
        if wanted not in ((), ("partner",)):
            raise ValueError("a firm's key carries the partner scope only")
        return ("partner",)
    unknown = [s for s in wanted if s not in OPS_SCOPES]
    if unknown or not wanted:
        raise ValueError(f"scopes: one or more of {', '.join(OPS_SCOPES)}")
    return wanted


async def issue(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[str],
    created_by: str,
    firm_id: str | None = None,
) -> Issued:
    """Inside the caller's transaction: a new credential; its token is in the answer only."""
    granted = check_scopes(scopes, firm_id)
    key_id, token = new_token()
    now = utcnow()
    await session.execute(
        credentials.insert().values(
            key_id=key_id,
            name=name,
            firm_id=firm_id,
            scopes=list(granted),
            token_sha256=hash_token(token),
            created_at=now,
            created_by=created_by,
        )
    )
    return Issued(key_id, token, name, granted, firm_id, now)


async def revoke(
    session: AsyncSession, key_id: str, *, revoked_by: str, firm_id: str | None = None
) -> Literal["revoked", "already revoked", "unknown"]:
    """Inside the caller's transaction. ``firm_id``: only that firm's key (another's is
    unknown)."""
    where = [credentials.c.key_id == key_id]
    if firm_id is not None:
        where.append(credentials.c.firm_id == firm_id)
    row = (
        await session.execute(select(credentials.c.revoked_at).where(*where).with_for_update())
    ).first()
    if row is None:
        return "unknown"
    if row.revoked_at is not None:
        return "already revoked"
    await session.execute(
        update(credentials).where(*where).values(revoked_at=utcnow(), revoked_by=revoked_by)
    )
    return "revoked"


def _info(row: Any) -> CredentialInfo:
    return CredentialInfo(
        row.key_id,
        row.name,
        tuple(row.scopes),
        row.firm_id,
        row.created_at,
        row.created_by,
        row.revoked_at,
        row.revoked_by,
    )


async def list_credentials(
    session: AsyncSession, *, firm_id: str | None = None, firms: bool | None = None
) -> list[CredentialInfo]:
    """Every credential (``firm_id``: one firm's keys; ``firms`` False: ops ones only)."""
    query = select(credentials).order_by(credentials.c.created_at, credentials.c.key_id)
    if firm_id is not None:
        query = query.where(credentials.c.firm_id == firm_id)
    elif firms is False:
        query = query.where(credentials.c.firm_id.is_(None))
    return [_info(r) for r in await session.execute(query)]


async def get_credential(session: AsyncSession, key_id: str) -> CredentialInfo | None:
    row = (await session.execute(select(credentials).where(credentials.c.key_id == key_id))).first()
    return _info(row) if row is not None else None


_Entry = tuple[float, str, Caller]  # (trusted until, token digest, the caller)


@dataclass
class Verifier:
    """A process's view of the credentials: each verified one is trusted for ``CACHE_S``,
    then read again (so a revocation or a new scope holds within it); an unknown or
    revoked token is read every time, so a new key works at once. One read per key at a
    time: the requests that find a key's entry stale together wait for the same read (a
    busy door's dozens of requests in flight would otherwise each take a database
    connection every ``CACHE_S``)."""

    sessions: SessionFactory
    clock: Callable[[], float] = time.monotonic
    _known: dict[str, _Entry] = field(default_factory=dict)
    _reading: dict[str, asyncio.Future[_Entry | None]] = field(default_factory=dict)

    async def caller(self, token: str) -> Caller | None:
        key_id = key_id_of(token)
        if key_id is None:
            return None
        entry = self._known.get(key_id)
        if entry is None or self.clock() >= entry[0]:
            entry = await self._read_once(key_id)
        if entry is None:
            return None
        _, digest, found = entry
        return found if hmac.compare_digest(hash_token(token), digest) else None

    async def _read_once(self, key_id: str) -> _Entry | None:
        reading = self._reading.get(key_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key_id))
            self._reading[key_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key_id, None))
        # Shielded: a waiter that gives up (its client went away) leaves the read to the others.
        return await asyncio.shield(reading)

    async def _read(self, key_id: str) -> _Entry | None:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(
                        credentials.c.name,
                        credentials.c.scopes,
                        credentials.c.firm_id,
                        credentials.c.token_sha256,
                        credentials.c.revoked_at,
                    ).where(credentials.c.key_id == key_id)
                )
            ).first()
        if row is None or row.revoked_at is not None:
            self._known.pop(key_id, None)
            return None
        if len(self._known) > 10_000:  # bounded: tokens of garbage never get here
            self._known.clear()
        entry = (
            self.clock() + CACHE_S,
            row.token_sha256,
            Caller(key_id, row.name, frozenset(row.scopes), row.firm_id),
        )
        self._known[key_id] = entry
        return entry

    async def in_force(self, key_id: str) -> bool:
        """Whether a credential that was valid still is (for long-lived streams)."""
        async with self.sessions() as session:
            revoked = await session.scalar(
                select(credentials.c.revoked_at.is_(None)).where(credentials.c.key_id == key_id)
            )
        return revoked is True


def verifier_of(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.runtime.verifier
    return verifier


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    if credentials is None:
        raise _unauthorized("A bearer credential is required.")
    caller = await verifier_of(request).caller(credentials.credentials)
    if caller is None:
        raise _unauthorized("The bearer credential is not valid (unknown, revoked or mistyped).")
    return caller


def _with_scope(caller: Caller, scope: Scope) -> Caller:
    if not caller.may(scope):
        raise Problem(
            403,
            f"This credential ({caller.name}) lacks the {scope} scope.",
            errors=[{"field": "Authorization", "reason": f"needs the {scope} scope"}],
        )
    return caller


def require(scope: Scope) -> Callable[..., Any]:
    """A FastAPI dependency: the caller, if its credential carries ``scope`` (403 if it is
    valid but lacks it, 401 if it is not valid)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return _with_scope(await authenticate(request, credentials), scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


BEARER_SECURITY: list[dict[str, list[str]]] = [{_bearer.scheme_name: []}]
"""The OpenAPI ``security`` of an operation that calls ``authorized`` itself."""


async def authorized(request: Request, scope: Scope) -> Caller:
    """``require(scope)`` without FastAPI's dependency solving, for the hot path that reads
    its request itself (``POST /v1/leads``; declare ``BEARER_SECURITY`` in its OpenAPI):
    the same header reading and the same answers."""
    return _with_scope(await authenticate(request, await _bearer(request)), scope)


@dataclass(frozen=True)
class Partner:
    """A firm calling with its partner key."""

    firm_id: str
    key_id: str
    name: str

    @property
    def actor(self) -> str:
        return f"{self.firm_id}: {self.name} ({self.key_id})"


def as_partner(caller: Caller) -> Partner | None:
    if caller.firm_id is None or not caller.may("partner"):
        return None
    return Partner(caller.firm_id, caller.key_id, caller.name)


async def require_partner(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Partner:
    """A firm's partner key (an ops credential is refused here: a partner endpoint
    answers for one firm's own data only)."""
    partner = as_partner(await authenticate(request, credentials))
    if partner is None:
        raise Problem(
            403,
            "This endpoint takes a firm's partner key.",
            errors=[{"field": "Authorization", "reason": "not a partner key"}],
        )
    return partner


AdminCaller = Annotated[Caller, Depends(require("admin"))]
SalesCaller = Annotated[Caller, Depends(require("sales"))]
SubmitCaller = Annotated[Caller, Depends(require("submit"))]
ReadCaller = Annotated[Caller, Depends(require("read"))]
PartnerCaller = Annotated[Partner, Depends(require_partner)]
