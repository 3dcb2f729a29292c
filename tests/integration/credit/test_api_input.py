"""Credit's HTTP API in process: malformed path input is a 422 problem naming the field,
never a 500."""

from __future__ import annotations

import pytest

from tests.integration.credit.test_api import OPS, Credit, credit  # noqa: F401


@pytest.mark.parametrize(
    ("path", "field"),
    [
        # a NUL in the firm id went to PostgreSQL (500)
        ("/v1/firms/a%00b/statements/2026-11", "firm_id"),
        ("/v1/firms/a%00b/contract", "firm_id"),
        ("/v1/firms/a%00b/reports/daily/2026-11-23", "firm_id"),
        # a character Latin-1 cannot carry went into the CSV's Content-Disposition
        ("/v1/firms/%F0%9F%98%80/statements/2026-11?format=csv", "firm_id"),
        ("/v1/firms/%F0%9F%98%80/reports/daily/2026-11-23?format=csv", "firm_id"),
        ("/v1/firms/" + "x" * 101 + "/statements/2026-11", "firm_id"),
        # a week or a day at the calendar's end overflowed (500)
        ("/v1/firms/x/reports/weekly/9999-12-31", "day"),
        ("/v1/firms/x/reports/daily/9999-12-31", "day"),
        ("/v1/firms/x/reports/daily/0000-01-01", "day"),
        ("/v1/firms/x/statements/2026-13", "period"),
    ],
)
async def test_malformed_path_input_is_a_422_problem_naming_the_field(
    credit: Credit,  # noqa: F811
    path: str,
    field: str,
) -> None:
    refused = await credit.client.get(path, headers=OPS)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_a_firm_id_from_another_service_with_capitals_is_still_readable(
    credit: Credit,  # noqa: F811
) -> None:
    answered = await credit.client.get(
        "/v1/firms/Acme.EU/reports/weekly/2026-11-23?format=csv", headers=OPS
    )
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-disposition"] == (
        'attachment; filename="Acme.EU-weekly-2026-11-23.csv"'
    )
