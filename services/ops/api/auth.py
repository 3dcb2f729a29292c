"""Who is watching: an ops credential with the read scope sees every event; a firm's
partner key sees its own firm's. Anything else is 401 (403 for a valid credential that
may not read). Who subscribes to webhooks: an ops credential with the admin scope (any
event), or a firm's partner key (its own firm's events, as its stream)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.credentials import Caller, as_partner, authenticate
from shared.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="An ops credential or a partner firm's key")


@dataclass(frozen=True)
class Viewer:
    firm_id: str | None  # None: ops, who sees every firm
    key_id: str | None = None  # the partner key used (a stream ends when it is revoked)


async def require_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    caller = await authenticate(request, credentials)
    partner = as_partner(caller)
    if partner is not None:
        return Viewer(firm_id=partner.firm_id, key_id=partner.key_id)
    if caller.may("read"):
        return Viewer(firm_id=None)
    raise Problem(
        403,
        f"This credential ({caller.name}) lacks the read scope.",
        errors=[{"field": "Authorization", "reason": "needs the read scope"}],
    )


ViewerCaller = Annotated[Viewer, Depends(require_viewer)]


@dataclass(frozen=True)
class Subscriber:
    caller: Caller
    firm_id: str | None  # None: ops (every event); a partner firm's own events otherwise


async def require_subscriber(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Subscriber:
    caller = await authenticate(request, credentials)
    partner = as_partner(caller)
    if partner is not None:
        return Subscriber(caller, partner.firm_id)
    if caller.may("admin"):
        return Subscriber(caller, None)
    raise Problem(
        403,
        f"This credential ({caller.name}) may not manage webhooks.",
        errors=[{"field": "Authorization", "reason": "needs the admin scope or a partner key"}],
    )


SubscriberCaller = Annotated[Subscriber, Depends(require_subscriber)]
