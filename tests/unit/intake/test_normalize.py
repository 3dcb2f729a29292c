"""Normalization: company keys for matching, disposable and free-mail flags."""

from __future__ import annotations

import pytest

from services.intake.domain.normalize import (
    InvalidLead,
    Submission,
    company_key,
    normalize,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Walmart Inc.", "walmart"),
        ("ACME GmbH & Co. KG", "acme"),
        ("  Initech,   LLC ", "initech"),
        ("Société Générale S.A.", "société générale"),
        ("", None),
        (None, None),
        ("   ", None),
    ],
)
def test_company_key(name: str | None, key: str | None) -> None:
    assert company_key(name) == key


@pytest.mark.parametrize(
    ("email", "domain", "free", "disposable"),
    [
        ("Dana@Mail.Walmart.com", "walmart.com", False, False),
        ("someone@gmail.com", "gmail.com", True, False),
        ("bot@mailinator.com", "mailinator.com", False, True),
        ("x@yopmail.com", "yopmail.com", False, True),
    ],
)
def test_flags(email: str, domain: str, free: bool, disposable: bool) -> None:
    lead = normalize(Submission(email=email, company="Initech Ltd"))
    assert (lead.email_domain, lead.free_mail, lead.disposable) == (domain, free, disposable)
    assert lead.company_key == "initech"


def test_every_bad_field_is_named() -> None:
    with pytest.raises(InvalidLead) as caught:
        normalize(Submission(email="nope", country="Narnia", phone="12"))
    assert {e.field for e in caught.value.errors} == {"email", "country", "phone"}
