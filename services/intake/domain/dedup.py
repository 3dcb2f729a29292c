"""Duplicates: the same person from the same source within a window is a repeat touch of
the lead already registered, not a new lead."""

from __future__ import annotations

from datetime import datetime, timedelta


def dedup_scope(email: str, source: str, firm_id: str | None) -> str:
    """What makes two submissions "the same person from the same source": the normalized
    address, the source, and the firm that sent it (two firms are never merged)."""
    return f"{firm_id or '-'}|{source.casefold()}|{email}"


def window_start(now: datetime, window: timedelta) -> datetime:
    """The earliest registration that still makes a new submission a repeat."""
    return now - window


def is_repeat(first_seen: datetime | None, now: datetime, window: timedelta) -> bool:
    return first_seen is not None and window_start(now, window) <= first_seen <= now + window
