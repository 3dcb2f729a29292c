"""The base of every event payload, and the registry that maps a CloudEvents type to it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

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

    def envelope_json(
        self, source: str, trace: Mapping[str, str], payload_json: str | None = None
    ) -> tuple[UUID, str]:
        """A new id and ``envelope(source)`` stamped with ``trace``'s attributes, as the
        CloudEvents JSON ``Envelope.model_dump_json`` writes, built straight from the
        payload's own JSON (no dict of it, no Envelope to validate and dump again: the
        outbox's hot path; ``payload_json``: this event's ``model_dump_json()`` if the
        caller wrote it already). Refuses what the Envelope would refuse."""
        time, key = self.event_time(), self.partition_key()
        if time.tzinfo is None or not key or not source:
            raise ValueError(f"{self.event_type}: needs an aware time, a key and a source")
        event_id = uuid4()
        head = to_json(
            {
                "specversion": "1.0",
                "id": event_id,
                "source": source,
                "type": self.event_type,
                "time": time,
                "subject": self.subject(),
                "datacontenttype": "application/json",
                "partitionkey": key,
                "traceparent": None,
                "tracestate": None,
                **trace,
            }
        )
        data = payload_json if payload_json is not None else self.model_dump_json()
        return event_id, f'{head[:-1].decode()},"data":{data}}}'

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
