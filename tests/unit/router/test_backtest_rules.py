"""The routing backtest's pure parts: the draft changes laid over a workspace, the stored
side read from ``lead.routed`` data, and what counts as a difference or a rotation."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.router.backtest import (
    Side,
    UnknownInChanges,
    WorkspaceChanges,
    is_rotation,
    stored_lead,
    stored_side,
)
from services.router.domain.model import Account, Owner, Territory

OWNERS = {
    "ana": Owner("ana", "Ana", "AE", team_id="t"),
    "ben": Owner("ben", "Ben", "AE", team_id="t"),
}
ACME = Account("acme", "Acme", frozenset({"acme.com"}), owner_id="ana")


def side(owner: str | None, *, rule: str = "territory", rr: bool = True) -> Side:
    trace = ("round_robin ✓ weighted round robin picked X",) if rr else ("named_owner ✓ x",)
    return Side(owner, "t", None, rule, (), "Routed.", trace)


def test_owners_away_are_out_of_office_every_day_and_gone_ones_inactive() -> None:
    changed = WorkspaceChanges(owners_away=frozenset({"ana"}), owners_inactive=frozenset({"ben"}))
    owners = changed.owners(OWNERS)
    assert owners["ana"].away_on(date(2031, 3, 1))
    assert owners["ana"].active
    assert not owners["ben"].active
    assert OWNERS["ana"].out_of_office == ()  # the workspace itself is untouched


def test_a_handed_over_account_names_its_new_owner_for_the_backtest_only() -> None:
    changes = WorkspaceChanges(account_owners={"acme": "ben"})
    assert changes.accounts({"acme": ACME})["acme"].owner_id == "ben"
    assert ACME.owner_id == "ana"
    assert WorkspaceChanges().accounts({"acme": ACME}) == {"acme": ACME}


def test_a_change_naming_an_unknown_owner_is_refused() -> None:
    with pytest.raises(UnknownInChanges, match="no owner ghost"):
        WorkspaceChanges(account_owners={"acme": "ghost"}).owners(OWNERS)


def test_the_stored_side_and_lead_are_read_from_their_event_data() -> None:
    lead_id = uuid4()
    lead = stored_lead(
        {"lead_id": str(lead_id), "email_domain": "acme.com", "received_at":
         "2031-03-01T15:00:00Z", "country": "US", "company": None}
    )  # fmt: skip
    assert (lead.lead_id, lead.email_domain, lead.free_mail) == (lead_id, "acme.com", False)
    assert lead.received_at.isoformat() == "2031-03-01T15:00:00+00:00"
    stored = stored_side(
        {"owner": {"owner_id": "ana"}, "team": None, "queue": None, "rule": "named_owner",
         "flags": ["do_not_market"], "explanation": "Routed to Ana.",
         "trace": [{"rule": "named_owner", "matched": True, "reason": "Ana owns Acme"}]}
    )  # fmt: skip
    assert stored == Side(
        "ana", None, None, "named_owner", ("do_not_market",), "Routed to Ana.",
        ("named_owner ✓ Ana owns Acme",),
    )  # fmt: skip


def test_another_member_of_the_same_round_robin_is_a_rotation_anything_else_a_change() -> None:
    assert side("ana").same_routing(side("ana"))
    assert is_rotation(side("ana"), side("ben"))
    assert not is_rotation(side("ana", rule="named_owner", rr=False), side("ben", rr=False))
    assert not is_rotation(side("ana"), side("ben", rule="customer"))
    assert not side("ana").same_routing(side(None))


def test_a_territory_moved_keeps_its_name_and_takes_the_new_places() -> None:
    from services.router.backtest_jobs import ChangesIn

    emea = Territory("emea", "EMEA", ("GB", "DE"))
    changes = ChangesIn.model_validate({"territories": {"emea": {"countries": ["fr"]}}})
    moved = changes.changes().moved_territories({"emea": emea})
    assert moved["emea"] == Territory("emea", "EMEA", ("FR",))
    assert moved["emea"].covers("FR", None, None)
    assert not moved["emea"].covers("GB", None, None)
    with pytest.raises(UnknownInChanges):
        ChangesIn.model_validate({"territories": {"apac": {}}}).changes().moved_territories(
            {"emea": emea}
        )


def test_the_result_shows_each_owners_load_per_day_before_and_after() -> None:
    from services.router.backtest import RoutingBacktest
    from services.router.backtest_jobs import RoutingBacktestOut

    report = RoutingBacktest("v1", (date(2031, 3, 1), date(2031, 4, 1)), leads=3)
    report.load_before.update({("ana", "2031-03-02"): 2, ("ben", "2031-03-02"): 1})
    report.load.update({("ben", "2031-03-02"): 3})
    out = RoutingBacktestOut.of(report)
    assert [(d.owner_id, d.leads_before, d.leads) for d in out.load] == [
        ("ana", 2, 0),
        ("ben", 1, 3),
    ]
