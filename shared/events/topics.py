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
    "leads.received", 6, "lead id", "Every lead registered by intake, once, normalized."
)
LEADS_ROUTED = Topic(
    "leads.routed", 6, "account id (lead id when unmatched)", "Routing decisions with trace."
)
CREDITS_DECIDED = Topic(
    "credits.decided", 6, "lead id", "Credit decisions for outside firms, by revision."
)

TOPICS: tuple[Topic, ...] = (LEADS_RECEIVED, LEADS_ROUTED, CREDITS_DECIDED)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
