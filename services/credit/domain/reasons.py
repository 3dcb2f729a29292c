"""A reason in a credit decision: the rule's id, for machines, and a sentence, for people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Reason:
    rule: str
    sentence: str


def when(at: datetime) -> str:
    """A deadline as people read it, in UTC."""
    return f"{at:%Y-%m-%d %H:%M} UTC"
