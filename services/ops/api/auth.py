"""Who is watching: an ops token sees every event; a partner firm's key sees its own
firm's. Anything else is 401."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.ops.store import SCHEMA
from shared.auth import token_matches
from shared.partners import firm_for_token, key_id_of
from shared.problems import Problem
from shared.service import runtime_of

_bearer = HTTPBearer(auto_error=False, description="Ops token or a partner firm's API key")


@dataclass(frozen=True)
class Viewer:
    firm_id: str | None  # None: ops, who sees every firm
    key_id: str | None = None  # the partner key used (a stream ends when it is revoked)


async def require_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Problem(401, "An ops token or a partner API key is required.", headers=unauthorized)
    runtime = runtime_of(request)
    if token_matches(credentials.credentials, runtime.settings.ops_token_hashes):
        return Viewer(firm_id=None)
    async with runtime.sessions() as session:
        firm_id = await firm_for_token(session, SCHEMA, credentials.credentials)
    if firm_id is None:
        raise Problem(
            401, "The token is neither an ops token nor a valid partner key.", headers=unauthorized
        )
    return Viewer(firm_id=firm_id, key_id=key_id_of(credentials.credentials))


ViewerCaller = Annotated[Viewer, Depends(require_viewer)]
