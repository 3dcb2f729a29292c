"""Duplicate windows and token buckets (pure, clock passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.dedup import dedup_scope, is_repeat
from services.intake.domain.ratelimit import TokenBuckets, retry_after

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
WINDOW = timedelta(days=30)


@pytest.mark.parametrize(
    ("first_seen", "repeat"),
    [
        (None, False),
        (NOW - timedelta(days=1), True),
        (NOW - timedelta(days=30), True),
        (NOW - timedelta(days=30, seconds=1), False),
    ],
)
def test_is_repeat(first_seen: datetime | None, repeat: bool) -> None:
    assert is_repeat(first_seen, NOW, WINDOW) is repeat


def test_scope_separates_sources_and_firms() -> None:
    base = dedup_scope("a@b.com", "Webinar", None)
    assert base == dedup_scope("a@b.com", "webinar", None)
    assert base != dedup_scope("a@b.com", "website", None)
    assert base != dedup_scope("a@b.com", "webinar", "acme")


def test_bucket_allows_a_burst_then_waits_then_refills() -> None:
    buckets = TokenBuckets(rate=1.0, burst=2)
    assert [buckets.take("k", 0.0) for _ in range(2)] == [0.0, 0.0]
    wait = buckets.take("k", 0.0)
    assert wait == pytest.approx(1.0)
    assert retry_after(wait) == "1"
    assert buckets.take("other", 0.0) == 0.0  # per caller
    assert buckets.take("k", 1.0) == 0.0


def test_buckets_forget_old_callers_beyond_the_bound() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_callers=2)
    for caller in ("a", "b", "c"):
        buckets.take(caller, 0.0)
    assert buckets.take("a", 0.0) == 0.0  # "a" was forgotten, so it has a full bucket
