"""The running stack: a partner's lead and a CSV imported with ``leadflow import`` reach
the router like any lead; the command reports the refused rows with line numbers."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from services.intake.cli import app as import_app
from tests.support.stack import Stack


async def routed(client: httpx.AsyncClient, stack: Stack, lead_id: str) -> dict[str, Any]:
    url = f"{stack.urls['router']}/v1/leads/{lead_id}/routing"
    for _ in range(450):  # the first test on a fresh stack waits for consumer assignment
        answer = await client.get(url, headers=stack.auth)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"lead {lead_id} never routed")


async def test_a_partner_lead_from_a_key_issued_by_the_cli_is_routed(stack: Stack) -> None:
    intake = stack.urls["intake"]
    firm_id = f"e2e-{secrets.token_hex(3)}"
    ops = ["--url", intake, "--token", stack.token]
    made = await asyncio.to_thread(
        CliRunner().invoke, import_app, ["firm-add", firm_id, "E2E", *ops]
    )
    assert made.exit_code == 0, made.output
    issued = await asyncio.to_thread(CliRunner().invoke, import_app, ["firm-key", firm_id, *ops])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{intake}/v1/partner/leads",
            json={"email": f"p-{secrets.token_hex(3)}@initech.com", "source": "outbound"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["results"][0]["id"]
        await routed(client, stack, lead_id)


async def test_leadflow_import_uploads_and_reports_bad_rows(stack: Stack, tmp_path: Path) -> None:
    tag = secrets.token_hex(3)
    csv = tmp_path / "attendees.csv"
    csv.write_text(
        f"Email,Name,Company\nann-{tag}@initech.com,Ann,Initech\nbroken,Bob,Initech\n"
        f"cy-{tag}@initech.com,Cy,Initech\n"
    )
    result = await asyncio.to_thread(
        CliRunner().invoke,
        import_app,
        [
            "import",
            str(csv),
            "--source",
            "webinar",
            "--url",
            stack.urls["intake"],
            "--token",
            stack.token,
        ],
    )
    assert result.exit_code == 1, result.output  # some rows were refused
    output = " ".join(result.output.split())  # rich wraps to the terminal width
    assert "completed — 2 new, 0 repeats, 1 refused" in output
    assert "line 3: email" in output
