"""The CloudEvents 1.0 envelope (structured JSON mode) every Leadflow event travels in.

``traceparent``/``tracestate`` are the CloudEvents Distributed Tracing extension: the W3C
trace context of the request or handler that published the event, so that one lead's
path through the services is one trace (``shared.tracing`` writes and reads them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """A CloudEvent. ``time`` is the event time (when the fact happened), not arrival."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(default_factory=uuid4)
    source: str = Field(min_length=1, description="The service that published it, e.g. /intake")
    type: str = Field(min_length=1, description="Versioned type, e.g. leadflow.lead.received.v1")
    time: AwareDatetime = Field(default_factory=utcnow)
    subject: str | None = Field(default=None, description="What it is about, e.g. lead/<id>")
    datacontenttype: Literal["application/json"] = "application/json"
    partitionkey: str = Field(min_length=1, description="CloudEvents partitioning extension")
    data: dict[str, Any]
    traceparent: str | None = Field(
        default=None,
        description="W3C traceparent of the publisher (CloudEvents Distributed Tracing "
        "extension); also sent as the Kafka header of the same name",
    )
    tracestate: str | None = Field(
        default=None, description="W3C tracestate that goes with traceparent, if any"
    )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
