"""Turning a marketing-automation tool's webhook payload into our facts: a lead (form
fill, content download, email click, webinar registration or attendance), an MQL update,
or a firm's activity. Configured per source as plain data (ops sets it); pure.

A rule picks values out of the payload by dotted path (``contact.email``,
``attendees.0.email``) and may add constants (``static``). Sticking point 2
(docs/design.md): marketing program responses on a firm's accounts become leads the router
can share with the firm."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["lead", "mql", "activity"]
Engagement = Literal[
    "form_fill",
    "content_download",
    "email_click",
    "webinar_registration",
    "webinar_attendance",
    "mql",
    "touch",
]
TARGET_FIELDS = (
    "email",
    "name",
    "company",
    "title",
    "phone",
    "country",
    "campaign",
    "firm_id",
    "activity_kind",
    "occurred_at",
    "notes",
)


class EventRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    engagement: Engagement = "form_fill"
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Our field → dotted path in the payload, e.g. {'email': 'contact.email'}.",
    )
    static: dict[str, str] = Field(
        default_factory=dict, description="Our field → a constant, e.g. {'campaign': 'q4'}."
    )

    def model_post_init(self, _context: Any) -> None:
        unknown = (set(self.fields) | set(self.static)) - set(TARGET_FIELDS)
        if unknown:
            raise ValueError(f"unknown target fields {sorted(unknown)}; known: {TARGET_FIELDS}")
        if "email" not in self.fields and "email" not in self.static:
            raise ValueError("a rule must map 'email'")


class SourceMapping(BaseModel):
    """How one source's payloads map. ``event_type_path`` finds the payload's event type;
    ``events`` maps each type to a rule (``*`` for any other type). Without a path every
    payload uses the ``*`` rule."""

    model_config = ConfigDict(extra="forbid")

    event_type_path: str | None = Field(default=None, max_length=200)
    events: dict[str, EventRule] = Field(min_length=1, max_length=100)


class MappingError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Mapped(BaseModel):
    kind: Kind
    engagement: Engagement
    event_type: str | None
    values: dict[str, str]


def pick(payload: Any, path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    current = payload
    for step in path.split("."):
        if isinstance(current, dict):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current


def apply(mapping: SourceMapping, payload: Any) -> Mapped | None:
    """The fact a payload carries, or None when its event type is not mapped (ignored)."""
    event_type = None
    if mapping.event_type_path:
        found = pick(payload, mapping.event_type_path)
        event_type = str(found) if isinstance(found, str | int) else None
    rule = mapping.events.get(event_type or "*") or mapping.events.get("*")
    if rule is None:
        return None
    values = dict(rule.static)
    for target, path in rule.fields.items():
        value = pick(payload, path)
        if value is None:
            continue
        if isinstance(value, dict | list):
            raise MappingError(target, f"'{path}' holds an object, not a value")
        values[target] = str(value)
    if not values.get("email"):
        raise MappingError("email", f"no value at '{rule.fields.get('email', '')}'")
    return Mapped(kind=rule.kind, engagement=rule.engagement, event_type=event_type, values=values)
