"""The demo is relative to today: the demo firm's assignment (router) and contract
(credit) are in force on whatever day ``make up`` runs, stay the same all year, and an
earlier year's contract is renewed rather than left to expire."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.credit.demo import contract_to_add, demo_terms
from services.router.demo import demo_accounts, demo_firm_period


@pytest.mark.parametrize(
    "today", [date(2026, 1, 1), date(2026, 12, 1), date(2026, 12, 31), date(2028, 2, 29)]
)
def test_the_assignment_is_in_force_today_and_for_a_year_more(today: date) -> None:
    period = demo_firm_period(today)
    assert period.starts_on <= today - timedelta(days=365)
    assert period.ends_on >= today + timedelta(days=365)
    assert period.notice_ends_on == period.ends_on + timedelta(days=30)


def test_the_assignment_is_the_same_all_year() -> None:
    assert demo_firm_period(date(2026, 1, 1)) == demo_firm_period(date(2026, 12, 31))


def test_the_demo_account_carries_the_period() -> None:
    period = demo_firm_period(date(2026, 12, 1))
    (walmart,) = [a for a in demo_accounts(period) if a.firm_id == "acme-outreach"]
    assert (walmart.firm_starts_on, walmart.firm_ends_on, walmart.firm_notice_ends_on) == (
        date(2025, 1, 1),
        date(2027, 12, 31),
        date(2028, 1, 30),
    )


def test_a_first_load_adds_the_demo_contract_and_a_reload_adds_nothing() -> None:
    period = demo_firm_period(date(2026, 12, 1))
    first = contract_to_add(None, period.starts_on, period.ends_on)
    assert first == demo_terms(period.starts_on, period.ends_on)
    assert first is not None
    assert first.acceptance_business_days == 0
    assert contract_to_add(first, period.starts_on, period.ends_on) is None


def test_an_earlier_years_contract_is_renewed_with_its_terms_kept() -> None:
    pinned = demo_terms(date(2026, 1, 1), date(2026, 12, 31)).model_copy(
        update={"price_per_lead": Decimal("99.00")}  # someone changed it
    )
    period = demo_firm_period(date(2027, 3, 1))
    renewed = contract_to_add(pinned, period.starts_on, period.ends_on)
    assert renewed is not None
    assert renewed.ends_on == date(2028, 12, 31)
    assert renewed.starts_on == date(2026, 1, 1)  # what it counted before still counts
    assert renewed.price_per_lead == Decimal("99.00")
