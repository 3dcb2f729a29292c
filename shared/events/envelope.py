"""The CloudEvents 1.0 envelope (structured JSON mode) every Leadflow event travels in."""

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

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
