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
FIRMS_CONTRACTS = Topic(
    "firms.contracts", 1, "firm id", "Firms' contract changes (the terms other services enforce)."
)

TOPICS: tuple[Topic, ...] = (
    LEADS_RECEIVED,
    LEADS_ROUTED,
    LEADS_STATUS,
    ACTIVITIES_LOGGED,
    MEETINGS_UPDATED,
    CREDITS_DECIDED,
    FIRMS_CONTRACTS,
)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
