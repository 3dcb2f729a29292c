"""The stream's filters: types exact or by prefix, firm and account, the partner's
bound, and the resume position."""

from __future__ import annotations

import pytest

from services.ops.domain.stream_filter import (
    PARTNER_HIDDEN_TOPICS,
    FilterError,
    NotYours,
    TypeFilter,
    parse_types,
    resume_position,
    stream_filter,
)


@pytest.mark.parametrize(
    ("values", "exact", "prefixes"),
    [
        ([], set(), ()),
        (["leadflow.lead.routed.v1"], {"leadflow.lead.routed.v1"}, ()),
        (["leadflow.lead"], set(), ("leadflow.lead.",)),
        (["leadflow.lead."], set(), ("leadflow.lead.",)),
        (["leadflow.lead.*"], set(), ("leadflow.lead.",)),
        (["leadflow.lead.rou*"], set(), ("leadflow.lead.rou",)),
        (["*"], set(), ("",)),
        (
            ["leadflow.credit.decided.v1, leadflow.lead", "leadflow.lead"],
            {"leadflow.credit.decided.v1"},
            ("leadflow.lead.",),
        ),
        ([" , "], set(), ()),
    ],
)
def test_types_are_exact_when_versioned_else_prefixes(
    values: list[str], exact: set[str], prefixes: tuple[str, ...]
) -> None:
    assert parse_types(values) == TypeFilter(frozenset(exact), prefixes)


@pytest.mark.parametrize("bad", ["not a type", "leadflow.lead;drop", "x" * 201, "a*b"])
def test_a_malformed_type_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse_types([bad])
    assert refused.value.field == "type"


def test_too_many_types_are_refused() -> None:
    with pytest.raises(FilterError, match="at most 20"):
        parse_types([",".join(f"t{i}.v1" for i in range(21))])


def test_ops_filters_as_asked() -> None:
    where = stream_filter(types=["leadflow.lead"], firm="acme", account="acc-1", viewer_firm=None)
    assert (where.firm_id, where.account_id, where.exclude_topics) == ("acme", "acc-1", frozenset())


def test_a_partner_is_bound_to_its_firm_and_never_sees_keys() -> None:
    where = stream_filter(types=[], firm=None, account="acc-1", viewer_firm="acme")
    assert (where.firm_id, where.account_id) == ("acme", "acc-1")
    assert where.exclude_topics == PARTNER_HIDDEN_TOPICS
    assert "leads.routed" in where.exclude_topics  # traces name owners and other firms
    assert "leadflow.lead.sla_breached.v1" in where.exclude_types
    assert stream_filter(types=[], firm="acme", account=None, viewer_firm="acme").firm_id == "acme"
    with pytest.raises(NotYours):
        stream_filter(types=[], firm="globex-partners", account=None, viewer_firm="acme")


@pytest.mark.parametrize(("firm", "account"), [("a b", None), (None, "x" * 101), ("é", None)])
def test_malformed_ids_are_refused(firm: str | None, account: str | None) -> None:
    with pytest.raises(FilterError):
        stream_filter(types=[], firm=firm, account=account, viewer_firm=None)


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, None),
        ("", None, None),
        ("42", None, 42),
        (None, "7", 7),
        ("42", "7", 42),  # the header (what a browser sends on reconnect) wins
        (" 0 ", None, 0),
    ],
)
def test_resume_position(header: str | None, query: str | None, expected: int | None) -> None:
    assert resume_position(header, query) == expected


@pytest.mark.parametrize(
    ("header", "query", "field"),
    [
        ("-1", None, "Last-Event-ID"),
        ("abc", None, "Last-Event-ID"),
        (None, "1e3", "last_event_id"),
        ("9" * 19, None, "Last-Event-ID"),
    ],
)
def test_bad_resume_positions(header: str | None, query: str | None, field: str) -> None:
    with pytest.raises(FilterError) as refused:
        resume_position(header, query)
    assert refused.value.field == field
