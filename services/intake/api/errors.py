"""The problem answers every intake endpoint may give beside those the shared edges add
to every operation (``shared.service``), for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from shared.problems import PROBLEM_RESPONSES, problem

INTAKE_ERRORS: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    409: problem("A request with this Idempotency-Key is in progress"),
    422: problem(
        "Invalid input (each error names its field and reason), or an Idempotency-Key "
        "reused for a different request"
    ),
    429: problem("Rate limit reached; see Retry-After"),
    503: problem(
        "Database unavailable or the outbox backlog too long; nothing was stored; see Retry-After"
    ),
}
