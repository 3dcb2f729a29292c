"""The funnel's CSV never hands a spreadsheet a formula: channel and campaign come from
whoever submitted the lead."""

from __future__ import annotations

import csv
import io

import pytest

from services.ops.domain.funnel import LeadProgress, funnel, funnel_csv, text_cell


def _lead(campaign: str) -> LeadProgress:
    return LeadProgress(
        channel="web_form",
        campaign=campaign,
        stages=frozenset(),
        meeting_statuses=frozenset(),
        credit_state=None,
        credit_amount=None,
    )


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1-555", "'+1-555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("spring-launch", "spring-launch"),
        ("", ""),
    ],
)
def test_a_formula_start_is_quoted_and_anything_else_kept(value: str, cell: str) -> None:
    assert text_cell(value) == cell


def test_a_submitted_campaign_reaches_the_csv_as_text() -> None:
    text = funnel_csv(funnel([_lead("=cmd|' /C calc'!A0")]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["campaign"] == "'=cmd|' /C calc'!A0"
    assert rows[-1]["campaign"] == "all"
