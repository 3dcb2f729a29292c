"""The lead's lifecycle (ops token): sales (or a CRM sync) moves a lead to its next stage
— accepts or rejects it with a reason code (sticking points 5 and 9, docs/design.md),
qualifies, opens an opportunity, closes it — and anyone in ops reads where it is, how it
got there and which SLA timers are running."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, get_args
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.router import lifecycle
from services.router.domain.lifecycle import IllegalTransition
from shared.credentials import ReadCaller, SalesCaller
from shared.events.status import LeadStage, RejectionReason
from shared.problems import Problem, problem
from shared.service import runtime_of
from shared.times import EventTime

router = APIRouter(prefix="/v1/leads", tags=["lifecycle"])


API_STAGES = frozenset(get_args(LeadStage))  # the router's own moves (routed) are not here
CLOCK_SKEW = timedelta(minutes=5)


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: LeadStage
    reason_code: RejectionReason | None = Field(
        default=None, description="Required to reject, and only then."
    )
    comment: str | None = Field(default=None, max_length=2000)
    occurred_at: EventTime | None = Field(
        default=None,
        description="Default: now. Not in the future, not before the lead was received.",
    )

    @model_validator(mode="after")
    def _reason_with_rejection(self) -> StageIn:
        if self.stage == "rejected" and self.reason_code is None:
            raise ValueError("reason_code is required to reject a lead")
        if self.stage != "rejected" and self.reason_code is not None:
            raise ValueError("reason_code goes only with stage rejected")
        return self


class TimerOut(BaseModel):
    kind: str
    fire_at: datetime
    due_at: datetime
    owner_id: str | None
    revision: int
    sla_name: str
    sla_minutes: int


class LifecycleOut(BaseModel):
    lead_id: UUID
    stage: str
    stage_at: datetime
    owner_id: str | None
    revision: int | None
    history: list[dict[str, Any]]
    pending_timers: list[TimerOut]


def _out(found: lifecycle.LifecycleView) -> LifecycleOut:
    row = found.row
    return LifecycleOut(
        lead_id=row.lead_id,
        stage=row.stage,
        stage_at=row.stage_at,
        owner_id=row.owner_id,
        revision=row.revision,
        history=row.history,
        pending_timers=[
            TimerOut(
                kind=t.kind,
                fire_at=t.fire_at,
                due_at=t.due_at,
                owner_id=t.owner_id,
                revision=t.revision,
                sla_name=t.sla_name,
                sla_minutes=t.sla_minutes,
            )
            for t in found.timers
        ],
    )


@router.post(
    "/{lead_id}/stage",
    summary="Move a lead to its next stage (accept, reject with a reason, qualify, close...)",
    description="Checked against the lifecycle table (an illegal move is a 409 naming the "
    "stages); published as `leadflow.lead.status_changed.v1`, its actor the calling "
    "credential. Accepting or rejecting stops the SLA timers; a rejection as `wrong_owner` "
    "routes the lead to someone else.",
    responses={
        404: problem("No such lead"),
        409: problem(
            "An illegal move (naming the current stage and the allowed ones), or a lead "
            "not routed yet"
        ),
    },
)
async def post_stage(
    lead_id: UUID, body: StageIn, request: Request, caller: SalesCaller
) -> LifecycleOut:
    runtime = runtime_of(request)
    now: datetime = request.app.state.clock()
    if body.occurred_at is not None and body.occurred_at > now + CLOCK_SKEW:
        raise Problem(
            422,
            "occurred_at is in the future.",
            errors=[{"field": "occurred_at", "reason": f"after now ({now.isoformat()})"}],
        )
    change = lifecycle.StageChange(
        stage=body.stage,
        reason_code=body.reason_code,
        comment=body.comment,
        actor=caller.actor,
        occurred_at=body.occurred_at or now,
    )
    async with runtime.sessions() as session, session.begin():
        try:
            await lifecycle.change_stage(session, runtime.outbox, lead_id, change, now=now)
        except lifecycle.UnknownLead as error:
            raise Problem(404, str(error)) from None
        except lifecycle.BeforeTheLead as error:
            raise Problem(
                422, str(error), errors=[{"field": "occurred_at", "reason": str(error)}]
            ) from None
        except lifecycle.NotRouted as error:
            raise Problem(
                409, str(error), errors=[{"field": "lead_id", "reason": str(error)}]
            ) from None
        except IllegalTransition as error:
            allowed = ", ".join(s for s in error.allowed if s in API_STAGES) or "none (final)"
            raise Problem(
                409,
                f"A lead in stage {error.current} cannot move to {error.wanted}; "
                f"allowed from there: {allowed}.",
                errors=[{"field": "stage", "reason": f"from {error.current}; allowed: {allowed}"}],
            ) from None
        found = await lifecycle.view(session, lead_id)
    if found is None:  # the transaction above found it; only a concurrent delete could
        raise Problem(404, f"No lifecycle for lead {lead_id}.")
    return _out(found)


@router.get(
    "/{lead_id}/lifecycle",
    summary="The lead's stage, its history and pending SLA timers",
    responses={404: problem("No lifecycle for this lead (yet)")},
)
async def get_lifecycle(lead_id: UUID, request: Request, _caller: ReadCaller) -> LifecycleOut:
    async with runtime_of(request).sessions() as session:
        found = await lifecycle.view(session, lead_id)
    if found is None:
        raise Problem(404, f"No lifecycle for lead {lead_id} (yet).")
    return _out(found)
