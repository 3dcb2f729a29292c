"""The demo firm's contract (acme-outreach), loaded by ``leadflow up`` with the demo
workspace, over the same period as the firm's assignment there (relative to the day it
is loaded: the demo never expires). It has no acceptance step (a lead counts on arrival,
sales may still return it within the return window), so the demo lead is credited at
once. A second load adds nothing while the contract runs to the period's end; one that
ends sooner (an earlier year's) is renewed as a new version, its other terms kept."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit import store
from services.credit.domain.contract import Terms

DEMO_FIRM = "acme-outreach"


def demo_terms(starts_on: date, ends_on: date) -> Terms:
    return Terms(starts_on=starts_on, ends_on=ends_on, notice_days=30, acceptance_business_days=0)


def contract_to_add(current: Terms | None, starts_on: date, ends_on: date) -> Terms | None:
    """The contract version a demo load adds, or None when the current one runs to
    ``ends_on`` (or has no end)."""
    if current is None:
        return demo_terms(starts_on, ends_on)
    if current.ends_on is None or current.ends_on >= ends_on:
        return None
    return Terms.model_validate({**current.model_dump(), "ends_on": ends_on})


async def seed_demo_contract(session: AsyncSession, starts_on: date, ends_on: date) -> None:
    async with session.begin():
        current = await store.current_contract(session, DEMO_FIRM)
        terms = contract_to_add(current.terms if current else None, starts_on, ends_on)
        if terms is not None:
            await store.add_contract(session, DEMO_FIRM, terms)
