"""Marketing-automation webhooks: a verified payload (see ``domain/signatures.py``) is
mapped by its source's mapping and becomes a lead, an MQL status change or a firm's
activity. The receipt (source, webhook-id) and the effect are written in one
transaction, so a replayed webhook is answered from its receipt and never applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.mapping import Mapped, MappingError, SourceMapping, apply
from services.intake.domain.normalize import (
    InvalidLead,
    Submission,
    normalize,
    normalize_email,
)
from services.intake.facts import change_lead_status, log_activity
from services.intake.service import submit_lead
from services.intake.store import latest_lead_of
from services.intake.tables import firms, webhook_receipts, webhook_sources
from shared.events.activities import ActivityKind
from shared.events.envelope import utcnow
from shared.outbox import Outbox
from shared.times import in_range

ACTIVITY_KINDS: tuple[ActivityKind, ...] = ("call", "email", "conversation", "linkedin", "other")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


async def put_mapping(session: AsyncSession, source: str, mapping: SourceMapping) -> None:
    """Inside the caller's transaction."""
    values = {"config": mapping.model_dump(mode="json"), "updated_at": utcnow()}
    statement = insert(webhook_sources).values(source=source, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["source"], set_=values))


async def get_mapping(session: AsyncSession, source: str) -> SourceMapping | None:
    row = (
        await session.execute(
            select(webhook_sources.c.config).where(webhook_sources.c.source == source)
        )
    ).first()
    return None if row is None else SourceMapping.model_validate(row.config)


def _problem(status: int, field: str, reason: str) -> Answer:
    return Answer(
        status,
        {
            "type": "about:blank",
            "title": "Invalid input",
            "status": status,
            "detail": f"{field}: {reason}",
            "errors": [{"field": field, "reason": reason}],
        },
    )


def _event_time(raw: str | None) -> datetime:
    if not raw:
        return utcnow()
    try:
        value = float(raw)
    except ValueError:
        parsed = datetime.fromisoformat(raw)
        return in_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return in_range(datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC))


async def _apply_activity(
    session: AsyncSession, outbox: Outbox, values: dict[str, str], raw: dict[str, Any]
) -> Answer:
    firm_id = values.get("firm_id") or ""
    known = (
        await session.execute(select(firms.c.firm_id).where(firms.c.firm_id == firm_id))
    ).first()
    if not known:
        return _problem(422, "firm_id", "missing or not a known firm")
    kind = values.get("activity_kind", "email")
    if kind not in ACTIVITY_KINDS:
        return _problem(422, "activity_kind", f"must be one of {', '.join(ACTIVITY_KINDS)}")
    try:
        email, domain = normalize_email(values["email"])
    except ValueError as exc:
        return _problem(422, "email", str(exc))
    try:
        occurred_at = _event_time(values.get("occurred_at"))
    except (ValueError, OverflowError, OSError) as exc:
        return _problem(422, "occurred_at", str(exc))
    activity_id = await log_activity(
        session,
        outbox,
        firm_id=firm_id,
        kind=kind,
        occurred_at=occurred_at,
        contact_email=email,
        email_domain=domain,
        lead_id=None,
        notes=values.get("notes"),
        raw=raw,
    )
    return Answer(200, {"outcome": "activity_logged", "id": str(activity_id)})


async def _apply(
    session: AsyncSession,
    outbox: Outbox,
    *,
    source: str,
    mapped: Mapped,
    raw: dict[str, Any],
    window: timedelta,
) -> Answer:
    values = mapped.values
    if mapped.kind == "activity":
        return await _apply_activity(session, outbox, values, raw)
    submission = Submission(
        email=values["email"],
        name=values.get("name"),
        company=values.get("company"),
        title=values.get("title"),
        phone=values.get("phone"),
        country=values.get("country"),
        source=source,
        campaign=values.get("campaign"),
    )
    try:
        lead = normalize(submission)
    except InvalidLead as exc:
        first = exc.errors[0]
        return _problem(422, first.field, first.reason)
    if mapped.kind == "mql":
        existing = await latest_lead_of(session, lead.email)
        lead_id = existing.id if existing is not None else None
        if lead_id is None:
            registered = await submit_lead(
                session, outbox, lead, channel="webhook", raw=raw, window=window
            )
            lead_id = registered.lead_id
        await change_lead_status(
            session,
            outbox,
            lead_id=lead_id,
            stage="qualified",
            reason_code=None,
            comment=f"MQL from {source}",
            actor=f"webhook:{source}",
        )
        return Answer(200, {"outcome": "mql", "id": str(lead_id)})
    registered = await submit_lead(
        session,
        outbox,
        lead,
        channel="webhook",
        raw={"engagement": mapped.engagement, "event_type": mapped.event_type, "payload": raw},
        window=window,
    )
    outcome = "lead_duplicate" if registered.duplicate else "lead_received"
    return Answer(
        200, {"outcome": outcome, "engagement": mapped.engagement, "id": str(registered.lead_id)}
    )


async def receive_webhook(
    session: AsyncSession,
    outbox: Outbox,
    *,
    source: str,
    webhook_id: str,
    mapping: SourceMapping,
    payload: Any,
    window: timedelta,
) -> Answer:
    """Apply a verified webhook once. A replay gets the first answer, marked replayed."""
    async with session.begin():
        claimed = await session.execute(
            insert(webhook_receipts)
            .values(source=source, webhook_id=webhook_id, status=0, response={})
            .on_conflict_do_nothing()
            .returning(webhook_receipts.c.webhook_id)
        )
        if claimed.first() is None:
            row = (
                await session.execute(
                    select(webhook_receipts.c.status, webhook_receipts.c.response).where(
                        webhook_receipts.c.source == source,
                        webhook_receipts.c.webhook_id == webhook_id,
                    )
                )
            ).one()
            return Answer(row.status, row.response, replayed=True)
        try:
            mapped = apply(mapping, payload)
        except MappingError as exc:
            answer = _problem(422, exc.field, exc.reason)
        else:
            if mapped is None:
                answer = Answer(200, {"outcome": "ignored"})
            else:
                raw = payload if isinstance(payload, dict) else {"payload": payload}
                answer = await _apply(
                    session, outbox, source=source, mapped=mapped, raw=raw, window=window
                )
        await session.execute(
            webhook_receipts.update()
            .where(webhook_receipts.c.source == source, webhook_receipts.c.webhook_id == webhook_id)
            .values(status=answer.status, response=answer.body)
        )
    return answer
