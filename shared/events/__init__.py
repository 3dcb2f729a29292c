"""Every event Leadflow publishes: a CloudEvents 1.0 envelope around a versioned payload.

Importing this package registers every event type, so ``parse`` can turn any
envelope into its typed payload.
"""

from shared.events import (
    activities,
    backtests,
    credit,
    firms,
    leads,
    lifecycle,
    notices,
    owners,
    routing,
    status,
)
from shared.events.base import Event, UnknownEventType, event_types, parse
from shared.events.envelope import Envelope
from shared.events.topics import TOPICS, Topic, dlq_topic

__all__ = [
    "TOPICS",
    "Envelope",
    "Event",
    "Topic",
    "UnknownEventType",
    "activities",
    "backtests",
    "credit",
    "dlq_topic",
    "event_types",
    "firms",
    "leads",
    "lifecycle",
    "notices",
    "owners",
    "parse",
    "routing",
    "status",
]
