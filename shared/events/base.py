"""The base of every event payload, and the registry that maps a CloudEvents type to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events.envelope import Envelope, utcnow
from shared.events.topics import Topic

_REGISTRY: dict[str, type[Event]] = {}


class UnknownEventType(ValueError):
    pass


class Event(BaseModel):
    """A payload. Subclasses name their CloudEvents ``type`` (versioned) and topic."""

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[Topic]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type:
            if event_type in _REGISTRY:
                raise TypeError(f"event type {event_type} registered twice")
            _REGISTRY[event_type] = cls

    def partition_key(self) -> str:
        raise NotImplementedError

    def subject(self) -> str:
        raise NotImplementedError

    def event_time(self) -> datetime:
        return utcnow()

    def envelope(self, source: str, *, event_id: UUID | None = None) -> Envelope:
        extra: dict[str, Any] = {"id": event_id} if event_id else {}
        return Envelope(
            source=source,
            type=self.event_type,
            time=self.event_time(),
            subject=self.subject(),
            partitionkey=self.partition_key(),
            data=self.model_dump(mode="json"),
            **extra,
        )

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Self:
        if envelope.type != cls.event_type:
            raise UnknownEventType(f"expected {cls.event_type}, got {envelope.type}")
        return cls.model_validate(envelope.data)


def event_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)


def parse(envelope: Envelope) -> Event:
    try:
        model = _REGISTRY[envelope.type]
    except KeyError:
        raise UnknownEventType(envelope.type) from None
    return model.model_validate(envelope.data)
