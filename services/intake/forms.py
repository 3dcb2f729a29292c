"""Form keys (ops-configured) and a form submission turned into a lead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.bulk import Entry
from services.intake.domain.forms import FormConfig, submission_of
from services.intake.domain.normalize import normalize
from services.intake.tables import forms
from shared.events.envelope import utcnow


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


def form_entry(
    form_key: str, config: FormConfig, fields: dict[str, Any], *, trace: Mapping[str, str]
) -> Entry:
    """The lead a form post brings, to register; raises ``InvalidLead`` for a submission
    that is not a lead."""
    lead = normalize(submission_of(config, fields))
    return Entry(lead, {"form_key": form_key, "fields": fields}, "web_form", trace=trace)
