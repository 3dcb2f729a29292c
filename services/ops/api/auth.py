"""Who is watching: an ops credential with the read scope sees every event; a firm's
partner key sees its own firm's. Anything else is 401 (403 for a valid credential that
may not read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.credentials import as_partner, authenticate
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
