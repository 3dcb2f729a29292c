# ruff: noqa: E501  (tables read best one case per line)
"""A routing workspace as plain data, shared by the router's unit tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from services.router.domain.model import (
    Account,
    FirmAssignment,
    Lead,
    OutOfOffice,
    Owner,
    Snapshot,
    Team,
    Territory,
)
from services.router.domain.ruleset import default_ruleset

DAY = datetime(2026, 11, 20, 15, tzinfo=UTC)
RULESET = default_ruleset()
ACME = FirmAssignment("acme-outreach", date(2026, 1, 1), date(2026, 12, 31), date(2027, 1, 30))

OWNERS = [
    Owner("dana", "Dana Ortiz", "AE", team_id="na-commercial"),
    Owner("lee", "Lee Chen", "AE", team_id="na-commercial", weight=2),
    Owner("sam", "Sam Patel", "AM"),
    Owner("max", "Max Boss", "manager", team_id="na-commercial", weight=0),
    Owner("ivy", "Ivy Gone", "AE", active=False, manager_id="max", team_id="na-commercial"),
    Owner("tom", "Tom Left", "AE", active=False, team_id="na-enterprise"),
    Owner("nob", "No Body", "AE", active=False),
    Owner("eve", "Eve Away", "AE", team_id="na-enterprise", out_of_office=(OutOfOffice(date(2026, 11, 16), date(2026, 11, 27)),)),
    Owner("fay", "Fay Full", "AE", team_id="na-enterprise", capacity=3, open_leads=3),
    Owner("gus", "Gus Free", "AE", team_id="na-enterprise", capacity=3, open_leads=2),
    Owner("ned", "Ned Emea", "AE", team_id="emea"),
]  # fmt: skip
TEAMS = [
    Team("na-commercial", "North America commercial"),
    Team("na-enterprise", "North America enterprise", queue="ent-queue"),
    Team("emea", "EMEA"),
]
TERRITORIES = [Territory("emea", "EMEA", countries=("GB", "DE", "FR"))]


def _acc(account_id: str, name: str, *domains: str, **kw: object) -> Account:
    return Account(account_id, name, frozenset(domains), **kw)  # type: ignore[arg-type]


ACCOUNTS = [
    _acc("walmart", "Walmart", "walmart.com", "samsclub.com", owner_id="dana", firm_assignment=ACME, country="US"),
    _acc("globex", "Globex", "globex.com", owner_id="lee", account_manager_id="sam", customer=True),
    _acc("hooli", "Hooli", "hooli.com", owner_id="lee", account_manager_id="sam", customer=True, firm_assignment=ACME),
    _acc("pied", "Pied Piper", "piedpiper.com", owner_id="lee", account_manager_id="sam", customer=True,
         firm_assignment=FirmAssignment("acme-outreach", date(2026, 1, 1), cross_sell=True)),
    _acc("initech", "Initech", "initech.com", owner_id="lee"),
    _acc("initech-labs", "Initech Labs", "initechlabs.com", parent_id="initech"),
    _acc("ivyco", "Ivy Co", "ivyco.com", owner_id="ivy"),
    _acc("tomco", "Tom Co", "tomco.com", owner_id="tom"),
    _acc("nobco", "Nob Co", "nobco.com", owner_id="nob"),
    _acc("bigco", "Big Co", "bigco.com", country="US", employees=5000),
    _acc("smallco", "Small Co", "smallco.com", country="CA", employees=40),
    _acc("euro", "Euro GmbH", "euro.de", country="DE"),
    _acc("nowhere", "Nowhere Ltd", "nowhere.io", country="BR"),
    _acc("expired", "Expired Inc", "expired.com", owner_id="lee",
         firm_assignment=FirmAssignment("acme-outreach", date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 30))),
    _acc("notice", "Notice Inc", "notice.com", owner_id="dana",
         firm_assignment=FirmAssignment("acme-outreach", date(2025, 1, 1), date(2026, 10, 31), date(2026, 11, 30))),
    _acc("future", "Future Inc", "future.com", owner_id="lee",
         firm_assignment=FirmAssignment("acme-outreach", date(2027, 1, 1))),
    _acc("umbrella-a", "Umbrella Corp", "umbrella-a.com", owner_id="dana"),
    _acc("umbrella-b", "Umbrella Corporation", "umbrella-b.com", owner_id="lee"),
    _acc("stark", "Stark Industries", "stark.com", owner_id="dana"),
    _acc("stark-eu", "Stark Industries", "stark.eu", parent_id="stark"),
    _acc("shared-a", "Shared A", "shared.com", owner_id="dana"),
    _acc("shared-b", "Shared B", "shared.com", owner_id="lee"),
]  # fmt: skip


def snapshot(**overrides: object) -> Snapshot:
    values: dict[str, object] = {
        "accounts": {a.account_id: a for a in ACCOUNTS},
        "owners": {o.owner_id: o for o in OWNERS},
        "teams": {t.team_id: t for t in TEAMS},
        "territories": {t.territory_id: t for t in TERRITORIES},
        "as_of": DAY,
    }
    values.update(overrides)
    return Snapshot(**values)  # type: ignore[arg-type]


def lead(
    domain: str,
    company: str | None = None,
    *,
    free_mail: bool = False,
    country: str | None = None,
    at: datetime = DAY,
) -> Lead:
    return Lead(UUID(int=1), domain, free_mail, at, company=company, country=country)
