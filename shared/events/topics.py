"""The topic catalog: every topic, its partition count and what its key is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    description: str


LEADS_RECEIVED = Topic(
    "leads.received", 6, "lead id", "Leads registered by intake (and repeat submissions)."
)
LEADS_ROUTED = Topic(
    "leads.routed", 6, "account id (lead id when unmatched)", "Routing decisions with trace."
)
LEADS_STATUS = Topic(
    "leads.status", 6, "lead id", "Sales acceptance/rejection and later funnel stages."
)
ACTIVITIES_LOGGED = Topic(
    "activities.logged", 6, "email domain", "Outside firms' touches (calls, emails, ...)."
)
MEETINGS_UPDATED = Topic(
    "meetings.updated", 6, "lead id (meeting id when no lead)", "Meetings and their outcomes."
)
CREDITS_DECIDED = Topic(
    "credits.decided", 6, "lead id", "Credit decisions for outside firms, by revision."
)
LEADS_RECEIVED_BULK = Topic(
    "leads.received.bulk",
    6,
    "lead id",
    "The bulk lane of leads.received: CSV imports and partner batches, consumed after the live "
    "lane has nothing waiting.",
)
LEADS_ROUTED_BULK = Topic(
    "leads.routed.bulk",
    6,
    "account id (lead id when unmatched)",
    "The bulk lane of leads.routed: the routing of bulk leads and of an account hand-over's leads.",
)
FIRMS_CONTRACTS = Topic(
    "firms.contracts", 1, "firm id", "Firms' contract changes (the terms other services enforce)."
)

OWNERS_UPDATED = Topic(
    "owners.updated",
    1,
    "owner id",
    "The owner directory: each owner's record (channels, manager, business hours) when it "
    "changes, for notifications.",
)

OPS_NOTICES = Topic(
    "ops.notices",
    1,
    "subscription id, or the consumer",
    "What the people running Leadflow must hear of: a webhook subscription disabled after "
    "sustained failure, an event a consumer gave up on (a dead letter).",
)

BACKTESTS_FINISHED = Topic(
    "backtests.finished",
    1,
    "backtest id",
    "Backtests of draft rule sets and contracts, in summary, when each finishes (for the ops "
    "dashboard; not a live topic).",
)

TOPICS: tuple[Topic, ...] = (
    LEADS_RECEIVED,
    LEADS_RECEIVED_BULK,
    LEADS_ROUTED,
    LEADS_ROUTED_BULK,
    LEADS_STATUS,
    ACTIVITIES_LOGGED,
    MEETINGS_UPDATED,
    CREDITS_DECIDED,
    FIRMS_CONTRACTS,
    OWNERS_UPDATED,
    OPS_NOTICES,
    BACKTESTS_FINISHED,
)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


BULK = ".bulk"
"""The suffix of a bulk lane's topics: the same events as the live topic, for work that may
wait (CSV imports, partner batches, re-routing an account hand-over's leads). Consumers
take the live lane first (``shared.consumer``), so a live lead never queues behind bulk
work."""


def is_bulk(topic: str) -> bool:
    return topic.endswith(BULK)


def in_lane(topic: Topic, bulk: bool) -> str:
    """The topic's name in the live or the bulk lane."""
    return f"{topic.name}{BULK}" if bulk else topic.name
