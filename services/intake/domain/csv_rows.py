"""CSV imports (webinar registrants or attendees, vendor lists): which column holds
which field, and a row as a submission or as the reasons it is refused. Pure.

A row is refused whole, by its line, when it cannot be trusted as a record: it is empty;
it has more fields than the header (the usual cause is an unquoted comma, which shifts
every later value into the wrong column; the account import refuses it the same way); a
cell holds a NUL character (which PostgreSQL cannot store) or bytes that are not UTF-8
(the reader keeps them as lone surrogates, ``errors="surrogateescape"``, so the other
rows still parse). A row with fewer fields than the header is read with the missing
trailing cells empty, as spreadsheet exports that trim them expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.intake.domain.normalize import (
    FieldError,
    InvalidLead,
    NormalizedLead,
    Submission,
    normalize,
)

ALIASES: dict[str, str] = {
    "email": "email",
    "e-mail": "email",
    "email address": "email",
    "work email": "email",
    "name": "name",
    "full name": "name",
    "first name": "first_name",
    "firstname": "first_name",
    "last name": "last_name",
    "lastname": "last_name",
    "company": "company",
    "company name": "company",
    "organization": "company",
    "organisation": "company",
    "title": "title",
    "job title": "title",
    "phone": "phone",
    "phone number": "phone",
    "country": "country",
    "country/region": "country",
    "campaign": "campaign",
}


class BadHeader(ValueError):
    pass


def columns_of(header: Sequence[str]) -> dict[str, int]:
    """Our field → column index, from the header row (case, spaces and a BOM ignored).
    Unknown columns are ignored; an email column is required."""
    found: dict[str, int] = {}
    for index, label in enumerate(header):
        key = " ".join(label.replace("\ufeff", "").strip().lower().replace("_", " ").split())
        field = ALIASES.get(key)
        if field and field not in found:
            found[field] = index
    if "email" not in found:
        raise BadHeader("the header row has no email column")
    return found


@dataclass(frozen=True)
class RowResult:
    line: int
    lead: NormalizedLead | None
    errors: tuple[FieldError, ...]
    raw: dict[str, str]


def _unreadable(columns: dict[str, int], row: Sequence[str]) -> FieldError | None:
    """The first cell PostgreSQL could not store, named by its field (``row`` for a
    column the import ignores)."""
    names = {index: field for field, index in columns.items()}
    for index, value in enumerate(row):
        if "\x00" in value:
            return FieldError(names.get(index, "row"), "contains a NUL character")
        if any("\udc80" <= c <= "\udcff" for c in value):
            return FieldError(names.get(index, "row"), "not valid UTF-8")
    return None


def parse_row(
    columns: dict[str, int],
    row: Sequence[str],
    line: int,
    source: str,
    campaign: str | None,
    *,
    width: int,
) -> RowResult:
    """One CSV record (``line``: where it starts; ``width``: the header's field count)."""

    def cell(field: str) -> str | None:
        index = columns.get(field)
        return row[index].strip() or None if index is not None and index < len(row) else None

    if not any(cell.strip() for cell in row):
        return RowResult(line, None, (FieldError("row", "empty row"),), {})
    if len(row) > width:
        reason = f"{len(row)} fields, header has {width}"
        return RowResult(line, None, (FieldError("row", reason),), {})
    unreadable = _unreadable(columns, row)
    if unreadable is not None:
        return RowResult(line, None, (unreadable,), {})
    raw = {field: row[i] for field, i in columns.items() if i < len(row)}
    name = cell("name") or " ".join(p for p in (cell("first_name"), cell("last_name")) if p)
    submission = Submission(
        email=cell("email") or "",
        name=name or None,
        company=cell("company"),
        title=cell("title"),
        phone=cell("phone"),
        country=cell("country"),
        source=source,
        campaign=cell("campaign") or campaign,
    )
    if not submission.email:
        return RowResult(line, None, (FieldError("email", "missing"),), raw)
    try:
        return RowResult(line, normalize(submission), (), raw)
    except InvalidLead as exc:
        return RowResult(line, None, tuple(exc.errors), raw)
