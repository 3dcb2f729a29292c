"""The problem answers every intake endpoint may give, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from shared.problems import PROBLEM_JSON, PROBLEM_RESPONSES

_PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}}

INTAKE_ERRORS: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    409: {"description": "A request with this Idempotency-Key is in progress", **_PROBLEM},
    422: {
        "description": "Invalid input (each error names its field and reason), or an "
        "Idempotency-Key reused for a different request",
        **_PROBLEM,
    },
    429: {"description": "Rate limit reached; see Retry-After", **_PROBLEM},
    503: {
        "description": "Database unavailable or the outbox backlog too long; nothing was "
        "stored; see Retry-After",
        **_PROBLEM,
    },
}
