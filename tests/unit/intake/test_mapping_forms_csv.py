"""Webhook mapping, form checks and CSV rows (pure)."""

from __future__ import annotations

import pytest

from services.intake.domain.csv_rows import BadHeader, columns_of, parse_row
from services.intake.domain.forms import FormConfig, is_bot, origin_allowed, submission_of
from services.intake.domain.mapping import MappingError, SourceMapping, apply, pick

MAPPING = SourceMapping.model_validate(
    {
        "event_type_path": "type",
        "events": {
            "download": {
                "kind": "lead",
                "engagement": "content_download",
                "fields": {"email": "who.email", "campaign": "asset.id"},
                "static": {"country": "US"},
            },
            "mql": {"kind": "mql", "engagement": "mql", "fields": {"email": "who.email"}},
        },
    }
)


@pytest.mark.parametrize(
    ("payload", "path", "value"),
    [
        ({"a": {"b": 1}}, "a.b", 1),
        ({"a": [{"b": "x"}]}, "a.0.b", "x"),
        ({"a": []}, "a.0", None),
        ("text", "a", None),
        ({"a": None}, "a.b", None),
    ],
)
def test_pick(payload: object, path: str, value: object) -> None:
    assert pick(payload, path) == value


def test_apply_maps_fields_and_constants() -> None:
    mapped = apply(MAPPING, {"type": "download", "who": {"email": "a@b.com"}, "asset": {"id": 7}})
    assert mapped is not None
    assert (mapped.kind, mapped.engagement) == ("lead", "content_download")
    assert mapped.values == {"email": "a@b.com", "campaign": "7", "country": "US"}


def test_unmapped_types_are_ignored_and_missing_email_is_an_error() -> None:
    assert apply(MAPPING, {"type": "pageview"}) is None
    assert apply(MAPPING, [1, 2]) is None
    with pytest.raises(MappingError) as caught:
        apply(MAPPING, {"type": "mql", "who": {}})
    assert caught.value.field == "email"
    with pytest.raises(MappingError):
        apply(MAPPING, {"type": "mql", "who": {"email": {"nested": 1}}})


def test_a_rule_must_map_email_to_known_fields() -> None:
    with pytest.raises(ValueError, match="email"):
        SourceMapping.model_validate({"events": {"*": {"kind": "lead", "fields": {}}}})
    with pytest.raises(ValueError, match="unknown"):
        SourceMapping.model_validate(
            {"events": {"*": {"kind": "lead", "fields": {"email": "e", "shoe": "s"}}}}
        )


FORM = FormConfig(name="Demo", campaign="q4", allowed_origins=["https://www.example.com"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://www.example.com", True),
        ("https://WWW.example.com/", True),
        ("http://www.example.com", False),
        ("https://evil.example.net", False),
        ("null", False),
        (None, False),
    ],
)
def test_origin_allowed(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(FORM, origin) is allowed


def test_honeypot_and_submission() -> None:
    assert is_bot(FORM, {"website": "http://spam"})
    assert not is_bot(FORM, {"website": "  "})
    submission = submission_of(FORM, {"email": "a@b.com", "name": 5})
    assert (submission.campaign, submission.source, submission.name) == ("q4", "web_form", "5")


def test_csv_columns_and_rows() -> None:
    columns = columns_of(["\ufeffE-mail", "First Name", "Last_Name", "Job Title", "Other"])
    assert columns == {"email": 0, "first_name": 1, "last_name": 2, "title": 3}
    with pytest.raises(BadHeader):
        columns_of(["name", "company"])
    good = parse_row(columns, ["A@B.com", "Pat", "Doe", "CTO"], 2, "list", "c", width=5)
    assert good.lead is not None
    assert (good.lead.email, good.lead.name, good.lead.campaign) == ("a@b.com", "Pat Doe", "c")
    short = parse_row(columns, ["x"], 3, "list", None, width=5)
    assert [(e.field, short.line) for e in short.errors] == [("email", 3)]
    empty = parse_row(columns, ["", ""], 4, "list", None, width=5)
    assert empty.errors[0].field == "row"


@pytest.mark.parametrize(
    ("row", "error"),
    [
        # an unquoted comma in a name: every later value is in the wrong column
        (["Lee", " Jr.", "lee@b.com", "Doe"], ("row", "4 fields, header has 3")),
        (["Pat\x00", "pat@b.com", "Doe"], ("first_name", "contains a NUL character")),
        (["Pat", "pat@b.com", "n\x00te"], ("row", "contains a NUL character")),
        # bytes that were not UTF-8, kept by the reader as lone surrogates
        (["Pat", "pat@b.com", "D\udcf6e"], ("row", "not valid UTF-8")),
        (["P\udcc3t", "pat@b.com", ""], ("first_name", "not valid UTF-8")),
    ],
)
def test_rows_that_cannot_be_trusted_are_refused_whole(
    row: list[str], error: tuple[str, str]
) -> None:
    columns = columns_of(["First Name", "Email", "Notes"])
    refused = parse_row(columns, row, 7, "list", None, width=3)
    assert refused.lead is None
    assert [(e.field, e.reason) for e in refused.errors] == [error]
    assert refused.raw == {}  # nothing of it is stored
