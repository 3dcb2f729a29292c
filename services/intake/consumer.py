"""Intake's one consumer: firms' contract changes, for the term intake enforces at the
door (how many days back a firm may date a touch or a meeting change)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.firms import keep_contract_terms
from shared.consumer import Handler
from shared.events.envelope import Envelope
from shared.events.firms import ContractChanged


async def on_contract_changed(session: AsyncSession, envelope: Envelope) -> None:
    await keep_contract_terms(session, ContractChanged.from_envelope(envelope))


HANDLERS: dict[str, Handler] = {ContractChanged.event_type: on_contract_changed}
