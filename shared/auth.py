"""Caller authentication shared by the services.

Tokens are random secrets; only their SHA-256 digests are configured or stored, and a
presented token is compared to each digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.problems import Problem
from shared.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False, description="Ops API token")


def new_token(prefix: str = "lf_ops") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, digests: Iterable[str]) -> bool:
    presented = hash_token(token)
    matched = False
    for digest in digests:  # no early exit: the time taken does not depend on which matched
        matched |= hmac.compare_digest(presented, digest)
    return matched


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def require_ops(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """An ops/sales caller: a bearer token whose digest is in LEADFLOW_OPS_TOKEN_SHA256."""
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    if credentials is None:
        raise _unauthorized("An ops bearer token is required.")
    if not token_matches(credentials.credentials, settings.ops_token_hashes):
        raise _unauthorized("The bearer token is not valid.")
    return "ops"


OpsCaller = Annotated[str, Depends(require_ops)]
