"""Who may call intake's partner endpoints: a firm's partner key (``shared.credentials``),
with a per-key rate limit."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from services.intake.domain.ratelimit import TokenBuckets, retry_after
from shared.credentials import Partner, require_partner
from shared.problems import Problem


async def limited_partner(
    request: Request, partner: Annotated[Partner, Depends(require_partner)]
) -> Partner:
    buckets: TokenBuckets = request.app.state.partner_buckets
    wait = buckets.take(partner.key_id, time.monotonic())
    if wait:
        raise Problem(
            429,
            "This API key's rate limit is exhausted; retry after the given seconds.",
            headers={"Retry-After": retry_after(wait)},
        )
    return partner


PartnerCaller = Annotated[Partner, Depends(limited_partner)]
