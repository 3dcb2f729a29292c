"""Who may call intake's partner endpoints: a firm's API key (``Authorization: Bearer
lf_<key id>_<secret>``), checked against its stored digest, with a per-key rate limit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.intake.domain.ratelimit import TokenBuckets, retry_after
from services.intake.store import SCHEMA
from shared.partners import firm_for_token, key_id_of
from shared.problems import Problem
from shared.service import runtime_of

_bearer = HTTPBearer(auto_error=False, description="Partner firm API key")


@dataclass(frozen=True)
class Partner:
    firm_id: str
    key_id: str


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def require_partner(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Partner:
    if credentials is None:
        raise _unauthorized("A partner API key is required.")
    token = credentials.credentials
    key_id = key_id_of(token)
    firm_id = None
    if key_id is not None:
        async with runtime_of(request).sessions() as session:
            firm_id = await firm_for_token(session, SCHEMA, token)
    if firm_id is None or key_id is None:
        raise _unauthorized("The partner API key is not valid.")
    buckets: TokenBuckets = request.app.state.partner_buckets
    wait = buckets.take(key_id, time.monotonic())
    if wait:
        raise Problem(
            429,
            "This API key's rate limit is exhausted; retry after the given seconds.",
            headers={"Retry-After": retry_after(wait)},
        )
    return Partner(firm_id, key_id)


PartnerCaller = Annotated[Partner, Depends(require_partner)]
