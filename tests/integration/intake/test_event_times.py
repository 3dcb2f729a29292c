"""Partner and webhook times at the calendar's ends are a 422 naming the field, not a
500 (they overflowed once moved to UTC or reached PostgreSQL)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.integration.intake.conftest import Intake, intake  # noqa: F401
from tests.integration.intake.test_webhooks import configured, post, signed

FAR = "9999-12-31T23:59:59-14:00"
EARLY = "0001-01-01T00:00:00+14:00"


def _email() -> str:
    return f"t-{secrets.token_hex(4)}@initech.com"


@pytest.mark.parametrize("when", [FAR, EARLY])
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/partner/activities", {"kind": "call"}, "occurred_at"),
        ("/v1/partner/meetings", {}, "scheduled_for"),
    ],
)
async def test_a_partner_time_at_the_calendars_end_is_a_422(
    intake: Intake,  # noqa: F811
    when: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    _, key = await intake.firm_with_key()
    sent = {**body, "contact_email": _email(), field: when}
    refused = await intake.client.post(path, json=sent, headers=key)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in refused.json()["errors"]}


async def test_a_meeting_far_ahead_but_in_range_is_still_booked(
    intake: Intake,  # noqa: F811
) -> None:
    _, key = await intake.firm_with_key()
    booked = await intake.client.post(
        "/v1/partner/meetings",
        json={"contact_email": _email(), "scheduled_for": "2999-01-01T00:00:00Z"},
        headers=key,
    )
    assert booked.status_code == 201, booked.text


@pytest.mark.parametrize("when", [FAR, EARLY, "1e15"])
async def test_a_webhook_event_time_at_the_calendars_end_is_a_422(
    intake: Intake,  # noqa: F811
    when: str,
) -> None:
    await configured(intake)
    firm_id, _ = await intake.firm_with_key()
    click = {"type": "email.clicked", "contact": {"email": _email()}, "firm": firm_id, "at": when}
    refused = await post(intake, *signed(click))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["occurred_at"]
