"""Notices for the people running Leadflow (topic ``ops.notices``): things no lead event
says but someone must act on — a webhook subscription disabled (ops publishes it), an
event a consumer gave up on (the consumer's service publishes it). They are in ops' event
log and stream like any event (a partner firm sees those about its own subscriptions, and
never a dead letter), and ops' notifier tells ops of each."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime, Field

from shared.events.base import Event
from shared.events.topics import OPS_NOTICES


class WebhookDisabled(Event):
    """A webhook subscription none of whose deliveries succeeded for the configured time
    was disabled: nothing more is sent to it until it is enabled again."""

    event_type = "leadflow.webhook.disabled.v1"
    topic = OPS_NOTICES

    subscription_id: UUID
    url: str
    firm_id: str | None = Field(
        default=None, description="The partner firm whose subscription it is; None: ops'."
    )
    failing_since: AwareDatetime
    disabled_at: AwareDatetime
    reason: str

    def partition_key(self) -> str:
        return str(self.subscription_id)

    def subject(self) -> str:
        return f"webhook/{self.subscription_id}"

    def event_time(self) -> datetime:
        return self.disabled_at


class EventDeadLettered(Event):
    """A consumer gave up on an event (its handler kept failing, or it did not parse) and
    put it on the topic's dead-letter topic (``<topic>.dlq``), where it waits for someone
    to look: the copy there carries the error and the stack in its headers."""

    event_type = "leadflow.event.dead_lettered.v1"
    topic = OPS_NOTICES

    consumer: str
    reason: str  # handler_failed, unparseable
    error: str
    dead_event_id: UUID | None = Field(
        default=None, description="The event given up on; None: it did not parse."
    )
    dead_event_type: str | None = None
    from_topic: str
    partition: int
    offset: int
    lead_id: UUID | None = None  # the lead the event was about, when it names one
    dead_lettered_at: AwareDatetime

    def partition_key(self) -> str:
        return self.consumer

    def subject(self) -> str:
        return f"dead-letter/{self.consumer}/{self.from_topic}/{self.partition}/{self.offset}"

    def event_time(self) -> datetime:
        return self.dead_lettered_at

    def notice_id(self) -> UUID:
        """The same for the same dead letter however often it is told (a consumer that
        restarts before its commit dead-letters the event again): ops keeps it once."""
        return uuid5(NAMESPACE_URL, f"leadflow:{self.subject()}")
