"""Partner batches: each item validated on its own (a bad item is reported with its index
and field, the good ones go in), all good items in one transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.bulk import Item, submit_many
from services.intake.domain.normalize import InvalidLead, Submission, normalize, normalize_email
from services.intake.domain.reporting import late_or_future
from services.intake.facts import log_activity
from services.intake.firms import reporting_window_days
from services.intake.schemas import ActivityIn, BatchResult, ItemResult, LeadIn
from services.intake.store import get_lead
from shared.events.envelope import utcnow
from shared.outbox import Outbox


def pydantic_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "reason": e["msg"]}
        for e in exc.errors()
    ]


def _summary(results: list[ItemResult]) -> BatchResult:
    return BatchResult(
        accepted=sum(r.outcome == "accepted" for r in results),
        duplicate=sum(r.outcome == "duplicate" for r in results),
        rejected=sum(r.outcome == "rejected" for r in results),
        results=results,
    )


async def submit_leads(
    session: AsyncSession,
    outbox: Outbox,
    items: list[dict[str, Any]],
    *,
    firm_id: str,
    window: timedelta,
    bulk: bool,
) -> BatchResult:
    results: dict[int, ItemResult] = {}
    good: list[tuple[int, Item]] = []
    for index, item in enumerate(items):
        try:
            body = LeadIn.model_validate(item)
            lead = normalize(Submission(**body.model_dump()))
        except ValidationError as exc:
            results[index] = ItemResult(
                index=index, outcome="rejected", errors=pydantic_errors(exc)
            )
            continue
        except InvalidLead as exc:
            errors = [{"field": e.field, "reason": e.reason} for e in exc.errors]
            results[index] = ItemResult(index=index, outcome="rejected", errors=errors)
            continue
        good.append((index, Item(lead, body.model_dump(mode="json"))))
    async with session.begin():
        registered = await submit_many(
            session,
            outbox,
            [item for _, item in good],
            channel="partner",
            firm_id=firm_id,
            window=window,
            bulk=bulk,
        )
    for (index, _), outcome in zip(good, registered, strict=True):
        results[index] = ItemResult(
            index=index,
            outcome="duplicate" if outcome.duplicate else "accepted",
            id=outcome.lead_id,
        )
    return _summary([results[i] for i in range(len(items))])


async def log_activities(
    session: AsyncSession, outbox: Outbox, items: list[dict[str, Any]], *, firm_id: str
) -> BatchResult:
    results: list[ItemResult] = []
    now = utcnow()
    async with session.begin():
        window = await reporting_window_days(session, firm_id)
        for index, item in enumerate(items):
            try:
                body = ActivityIn.model_validate(item)
            except ValidationError as exc:
                results.append(
                    ItemResult(index=index, outcome="rejected", errors=pydantic_errors(exc))
                )
                continue
            errors: list[dict[str, str]] = []
            email = domain = ""
            try:
                email, domain = normalize_email(body.contact_email)
            except ValueError as exc:
                errors.append({"field": "contact_email", "reason": str(exc)})
            late = late_or_future(body.occurred_at, now, window)
            if late is not None:
                errors.append({"field": "occurred_at", "reason": late})
            if body.lead_id is not None:
                lead = await get_lead(session, body.lead_id)
                if lead is None or lead.firm_id != firm_id:  # another firm's lead: not found
                    errors.append({"field": "lead_id", "reason": "no such lead of this firm"})
            if errors:
                results.append(ItemResult(index=index, outcome="rejected", errors=errors))
                continue
            activity_id = await log_activity(
                session,
                outbox,
                firm_id=firm_id,
                kind=body.kind,
                occurred_at=body.occurred_at,
                contact_email=email,
                email_domain=domain,
                lead_id=body.lead_id,
                notes=body.notes,
                raw=body.model_dump(mode="json"),
            )
            results.append(ItemResult(index=index, outcome="accepted", id=activity_id))
    return _summary(results)
