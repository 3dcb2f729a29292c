"""Counting the leads each channel offers, ``leadflow_intake_leads_total{channel,outcome}``:
what was taken in and what was refused, with the reason in one word, for rates and alerts
per channel.

Counted at the endpoint, once the answer is known; a replayed idempotent request is
answered before the endpoint and not counted again. Requests refused before the endpoint
runs (authentication, request schema, body size, back-pressure) show in
``leadflow_http_requests_total`` by route and status instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from shared.observability import INTAKE_LEADS, refusal_outcome
from shared.problems import Problem

# A webhook that maps to an MQL takes a lead in too; activities are not leads.
_WEBHOOK_OUTCOMES = {"lead_received": "accepted", "mql": "accepted", "lead_duplicate": "duplicate"}


def count(channel: str, outcome: str, n: int = 1) -> None:
    if n:
        INTAKE_LEADS.labels(channel, outcome).inc(n)


def count_registered(channel: str, *, duplicate: bool) -> None:
    count(channel, "duplicate" if duplicate else "accepted")


@contextlib.contextmanager
def refusals_counted(channel: str) -> Iterator[None]:
    """A problem raised inside counts as a refusal by its status; any other error as failed."""
    try:
        yield
    except Problem as problem:
        count(channel, refusal_outcome(problem.status))
        raise
    except Exception:
        count(channel, "failed")
        raise


def count_webhook(status: int, body: dict[str, Any], *, replayed: bool) -> None:
    if replayed:
        return  # counted the first time
    if status >= 400:
        count("webhook", refusal_outcome(status))
        return
    outcome = _WEBHOOK_OUTCOMES.get(str(body.get("outcome")))
    if outcome is not None:
        count("webhook", outcome)
