"""Web forms against real PostgreSQL and the broker: a browser post from an allowed page
is a lead (and a plain HTML form is redirected), a bad origin is refused, a honeypot
post is answered but ignored, and a flood from one address gets 429."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from services.intake.tables import leads as LeadRow
from shared.db import SessionFactory
from tests.integration.intake.conftest import Intake, running_intake
from tests.support.infra import Infra

SITE = "https://www.example.com"


async def make_form(intake: Intake, **config: object) -> str:
    form_key = f"demo-{secrets.token_hex(4)}"
    body = {
        "name": "Demo request",
        "campaign": "demo-2026",
        "allowed_origins": [SITE],
        "redirect_url": "https://www.example.com/thanks",
        **config,
    }
    made = await intake.client.put(f"/v1/forms/{form_key}", json=body, headers=intake.ops)
    assert made.status_code == 200, made.text
    return form_key


async def stored(sessions: SessionFactory, address: str) -> list[Any]:
    async with sessions() as session:
        rows = await session.execute(select(LeadRow).where(LeadRow.c.email == address))
    return list(rows.all())


async def test_a_plain_html_form_post_is_a_lead_and_redirected(
    intake: Intake, sessions: SessionFactory
) -> None:
    form_key = await make_form(intake)
    address = f"form-{secrets.token_hex(4)}@initech.com"
    answer = await intake.client.post(
        f"/v1/forms/{form_key}/submissions",
        data={"email": address, "name": "Pat Doe", "company": "Initech", "website": ""},
        headers={"Origin": SITE},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://www.example.com/thanks"
    assert answer.headers["access-control-allow-origin"] == SITE
    rows = await stored(sessions, address)
    assert len(rows) == 1
    assert (rows[0].channel, rows[0].campaign, rows[0].source) == (
        "web_form",
        "demo-2026",
        "web_form",
    )


async def test_a_json_post_is_accepted_without_redirect(
    intake: Intake, sessions: SessionFactory
) -> None:
    form_key = await make_form(intake)
    address = f"json-{secrets.token_hex(4)}@initech.com"
    answer = await intake.client.post(
        f"/v1/forms/{form_key}/submissions", json={"email": address}, headers={"Origin": SITE}
    )
    assert answer.status_code == 202
    assert len(await stored(sessions, address)) == 1


async def test_a_browser_post_from_a_bad_origin_is_refused(
    intake: Intake, sessions: SessionFactory
) -> None:
    form_key = await make_form(intake)
    address = f"evil-{secrets.token_hex(4)}@initech.com"
    for origin in ({"Origin": "https://evil.example.net"}, {}):
        answer = await intake.client.post(
            f"/v1/forms/{form_key}/submissions", data={"email": address}, headers=origin
        )
        assert answer.status_code == 403
        assert answer.json()["errors"][0]["field"] == "Origin"
    preflight = await intake.client.options(
        f"/v1/forms/{form_key}/submissions", headers={"Origin": "https://evil.example.net"}
    )
    assert preflight.status_code == 403
    good = await intake.client.options(
        f"/v1/forms/{form_key}/submissions", headers={"Origin": SITE}
    )
    assert good.status_code == 204
    assert good.headers["access-control-allow-origin"] == SITE
    assert await stored(sessions, address) == []


async def test_a_honeypot_post_looks_accepted_and_stores_nothing(
    intake: Intake, sessions: SessionFactory
) -> None:
    form_key = await make_form(intake)
    address = f"bot-{secrets.token_hex(4)}@initech.com"
    answer = await intake.client.post(
        f"/v1/forms/{form_key}/submissions",
        data={"email": address, "website": "http://spam.example"},
        headers={"Origin": SITE},
    )
    assert answer.status_code == 303
    assert await stored(sessions, address) == []


async def test_bad_fields_and_bad_bodies_get_problems(intake: Intake) -> None:
    form_key = await make_form(intake)
    url = f"/v1/forms/{form_key}/submissions"
    bad_email = await intake.client.post(url, data={"email": "nope"}, headers={"Origin": SITE})
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "email"
    not_json = await intake.client.post(
        url, content=b"{", headers={"Origin": SITE, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    text = await intake.client.post(
        url, content=b"hi", headers={"Origin": SITE, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    unknown = await intake.client.post(
        "/v1/forms/nope/submissions", data={"email": "a@b.com"}, headers={"Origin": SITE}
    )
    assert unknown.status_code == 404


async def test_a_flood_from_one_address_gets_429(infra: Infra) -> None:
    async with running_intake(infra, form_rate_per_min=1, form_burst=2) as intake:
        form_key = await make_form(intake)
        codes = []
        for n in range(3):
            answer = await intake.client.post(
                f"/v1/forms/{form_key}/submissions",
                json={"email": f"flood{n}-{secrets.token_hex(3)}@initech.com"},
                headers={"Origin": SITE},
            )
            codes.append(answer.status_code)
        assert codes == [202, 202, 429]
        assert int(answer.headers["retry-after"]) >= 1
