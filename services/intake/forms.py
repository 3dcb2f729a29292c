"""Form keys (ops-configured) and a form submission turned into a lead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.forms import FormConfig, submission_of
from services.intake.domain.normalize import normalize
from services.intake.service import Registered, submit_lead
from services.intake.tables import forms
from shared.events.envelope import utcnow
from shared.outbox import Outbox


async def put_form(session: AsyncSession, form_key: str, config: FormConfig) -> None:
    """Inside the caller's transaction."""
    values = {"config": config.model_dump(mode="json"), "updated_at": utcnow()}
    statement = insert(forms).values(form_key=form_key, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["form_key"], set_=values))


async def get_form(session: AsyncSession, form_key: str) -> FormConfig | None:
    row = (
        await session.execute(select(forms.c.config).where(forms.c.form_key == form_key))
    ).first()
    return None if row is None else FormConfig.model_validate(row.config)


async def submit_form(
    session: AsyncSession,
    outbox: Outbox,
    *,
    form_key: str,
    config: FormConfig,
    fields: dict[str, Any],
    window: timedelta,
) -> Registered:
    """Raises ``InvalidLead`` for a submission that is not a lead."""
    lead = normalize(submission_of(config, fields))
    async with session.begin():
        return await submit_lead(
            session,
            outbox,
            lead,
            channel="web_form",
            raw={"form_key": form_key, "fields": fields},
            window=window,
        )
