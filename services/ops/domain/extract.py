"""What the event log indexes from an envelope: the lead, firm, account, owner, channel and
campaign, found by field name in any event's data, so a type ops has never seen (a newer
service's event) is kept and indexed like the known ones, never refused.

The names are the ones the event models in ``shared/events`` use: a flat ``lead_id``,
``firm_id``, ``account_id``, ``owner_id``, or the nested ``firm_assignment``,
``account`` and ``owner`` of a routing decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

# The events that say which firm a lead belongs to, for the firm's view of its story: the
# submitting firm, and the credit decision (whose firm is the lead's claimant: the
# submitter, or the account's firm for an inbound lead). Not the routing decision: a lead
# another firm submitted on a firm's account is not that firm's to see. An activity's firm
# is the firm that made the touch, not the lead's, so it is not here either.
LEAD_FIRM_SOURCES = frozenset({"leadflow.lead.received.v1", "leadflow.credit.decided.v1"})
LEAD_ACCOUNT_SOURCES = frozenset({"leadflow.lead.routed.v1"})  # the account a lead is on

_LIMITS = {"firm_id": 100, "account_id": 100, "owner_id": 100, "channel": 100, "campaign": 200}


@dataclass(frozen=True)
class Indexed:
    lead_id: UUID | None = None
    firm_id: str | None = None
    account_id: str | None = None
    owner_id: str | None = None
    channel: str | None = None
    campaign: str | None = None


def _text(value: Any, field: str) -> str | None:
    if isinstance(value, str) and value:
        return value[: _LIMITS[field]]
    return None


def _nested(data: Mapping[str, Any], outer: str, inner: str) -> Any:
    value = data.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else None


def _uuid(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def indexed(data: Mapping[str, Any]) -> Indexed:
    """The indexed columns of one event's data (missing or malformed fields are None)."""
    return Indexed(
        lead_id=_uuid(data.get("lead_id")),
        firm_id=_text(
            data.get("firm_id") or _nested(data, "firm_assignment", "firm_id"), "firm_id"
        ),
        account_id=_text(
            data.get("account_id") or _nested(data, "account", "account_id"), "account_id"
        ),
        owner_id=_text(data.get("owner_id") or _nested(data, "owner", "owner_id"), "owner_id"),
        channel=_text(data.get("channel"), "channel"),
        campaign=_text(data.get("campaign"), "campaign"),
    )
