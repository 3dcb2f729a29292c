"""Bulk load of accounts from CSV, streamed: bytes in, batches of rows COPYed into a
temporary table and upserted into ``router.accounts`` (one transaction per batch, so a
bad row never sinks the good ones), and a report with each bad row's line number.

Columns (header row required; only ``id`` and ``name`` are mandatory):
``id, name, domains`` (separated by ``;``)``, parent_id, customer`` (true/false)``,
owner_id, account_manager_id, country, region, state, employees, industry, firm_id,
firm_starts_on, firm_ends_on, firm_notice_ends_on, firm_cross_sell``.

Accounts changed by a bulk load are not re-routed (use the admin API for a hand-over).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from services.router.domain.names import name_block, registrable_domain

COLUMNS = (
    "id", "name", "domains", "parent_id", "customer", "owner_id", "account_manager_id",
    "country", "region", "state", "employees", "industry", "firm_id", "firm_starts_on",
    "firm_ends_on", "firm_notice_ends_on", "firm_cross_sell",
)  # fmt: skip
_DB_COLUMNS = (*COLUMNS, "name_block")
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}
MAX_ERRORS_LISTED = 1000
MAX_EMPLOYEES = 10_000_000  # as the admin API; and it fits the integer column


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass
class LoadReport:
    rows: int = 0
    loaded: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)

    def fail(self, error: RowError) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(error)


class _Bad(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _text(row: dict[str, str], name: str, limit: int) -> str | None:
    value = (row.get(name) or "").strip()
    if len(value) > limit:
        raise _Bad(name, f"longer than {limit} characters")
    return value or None


def _date(row: dict[str, str], name: str) -> date | None:
    value = (row.get(name) or "").strip()
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise _Bad(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _bool(row: dict[str, str], name: str) -> bool:
    value = (row.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _Bad(name, f"{value!r} is not true/false")


def _domains(row: dict[str, str]) -> list[str]:
    domains = []
    for given in (row.get("domains") or "").split(";"):
        raw = given.strip()
        if not raw:
            continue
        if "." not in raw or " " in raw or len(raw) > 255:
            raise _Bad("domains", f"{raw!r} is not a domain")
        domains.append(registrable_domain(raw))
    return domains


def _firm(row: dict[str, str]) -> tuple[str | None, date | None, date | None, date | None]:
    firm_id = _text(row, "firm_id", 100)
    starts, ends, notice = (_date(row, f"firm_{d}_on") for d in ("starts", "ends", "notice_ends"))
    if firm_id and starts is None:
        raise _Bad("firm_starts_on", "required with firm_id")
    if ends and starts and ends < starts:
        raise _Bad("firm_ends_on", "before firm_starts_on")
    if notice and (ends is None or notice < ends):
        raise _Bad("firm_notice_ends_on", "needs a firm_ends_on on or before it")
    return firm_id, starts, ends, notice


def parse_row(row: dict[str, str], owners: frozenset[str]) -> tuple[Any, ...]:
    """One CSV row → the database record (in ``_DB_COLUMNS`` order). Raises ``_Bad``."""
    account_id = (row.get("id") or "").strip()
    if not _ID.match(account_id):
        raise _Bad("id", "missing, or not 1-100 letters, digits and ._:@-")
    name = _text(row, "name", 300)
    if name is None:
        raise _Bad("name", "missing")
    domains = _domains(row)
    refs = {}
    for ref in ("owner_id", "account_manager_id"):
        refs[ref] = _text(row, ref, 100)
        if refs[ref] is not None and refs[ref] not in owners:
            raise _Bad(ref, f"no owner {refs[ref]}")
    country = _text(row, "country", 2)
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise _Bad("country", "not a two-letter country code")
    employees_text = _text(row, "employees", 12)
    try:
        employees = int(employees_text) if employees_text else None
    except ValueError:
        raise _Bad("employees", f"{employees_text!r} is not a whole number") from None
    if employees is not None and not 0 <= employees <= MAX_EMPLOYEES:
        raise _Bad("employees", f"not between 0 and {MAX_EMPLOYEES:,}")
    firm_id, starts, ends, notice = _firm(row)
    return (
        account_id,
        name,
        sorted(set(domains)),
        _text(row, "parent_id", 100),
        _bool(row, "customer"),
        refs["owner_id"],
        refs["account_manager_id"],
        country.upper() if country else None,
        _text(row, "region", 100),
        _text(row, "state", 100),
        employees,
        _text(row, "industry", 100),
        firm_id,
        starts,
        ends,
        notice,
        _bool(row, "firm_cross_sell"),
        name_block(name),
    )


_STAGE = "router_account_stage"
_UPSERT = (
    f"INSERT INTO router.accounts ({', '.join(_DB_COLUMNS)}) "  # noqa: S608 - fixed names
    f"SELECT {', '.join(_DB_COLUMNS)} FROM {_STAGE} "
    f"ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _DB_COLUMNS if c != "id")
    + ", updated_at = now()"
)


class AccountLoader:
    """Feed it CSV bytes as they come (``feed``), then ``finish`` for the report."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        owners: frozenset[str],
        *,
        batch_size: int = 10_000,
        on_batch: Callable[[LoadReport], None] | None = None,
    ) -> None:
        self.conn = conn
        self.owners = owners
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.report = LoadReport()
        self._tail = ""
        self._line = 0  # physical lines consumed so far
        self._record: list[str] = []  # lines of a record whose quotes are still open
        self._record_line = 0
        self._pending: list[tuple[int, str]] = []  # (line number, whole record)
        self._header: list[str] | None = None
        # Incremental: a UTF-8 character split between two chunks is joined, a BOM dropped.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._staged = False

    async def feed(self, chunk: bytes | str) -> None:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        lines = (self._tail + text).split("\n")
        self._tail = lines.pop()
        for line in lines:
            self._take_line(line)
        if len(self._pending) >= self.batch_size:
            await self._flush()

    async def finish(self) -> LoadReport:
        if self._tail:
            self._take_line(self._tail)
            self._tail = ""
        if self._record:
            self.report.rows += 1
            self.report.fail(RowError(self._record_line, "row", "unterminated quoted field"))
            self._record = []
        await self._flush()
        return self.report

    def _take_line(self, line: str) -> None:
        self._line += 1
        if not self._record:
            self._record_line = self._line
        self._record.append(line.rstrip("\r"))
        record = "\n".join(self._record)
        if record.count('"') % 2:  # a quoted field goes on to the next line
            return
        self._record = []
        if self._header is None:
            self._header = [h.strip().lower() for h in next(csv.reader([record]), [])]
            unknown = sorted(set(self._header) - set(COLUMNS))
            missing = [c for c in ("id", "name") if c not in self._header]
            if unknown or missing:
                reason = f"unknown columns {unknown}" if unknown else f"missing columns {missing}"
                raise ValueError(f"line 1: {reason}")
            return
        if record.strip():
            self._pending.append((self._record_line, record))

    async def _flush(self) -> None:
        if not self._pending or self._header is None:
            return
        batch, self._pending = self._pending, []
        records: dict[str, tuple[int, tuple[Any, ...]]] = {}  # by id: the last row wins
        header = self._header
        for (line, record_text), values in zip(batch, csv.reader(r for _, r in batch), strict=True):
            self.report.rows += 1
            if "\x00" in record_text:  # PostgreSQL text cannot hold NUL
                self.report.fail(RowError(line, "row", "contains a NUL character"))
                continue
            if len(values) != len(header):
                self.report.fail(
                    RowError(line, "row", f"{len(values)} fields, header has {len(header)}")
                )
                continue
            try:
                record = parse_row(dict(zip(header, values, strict=True)), self.owners)
            except _Bad as bad:
                self.report.fail(RowError(line, bad.field, str(bad)))
                continue
            records[record[0]] = (line, record)
        if records:
            try:
                await self._write([record for _, record in records.values()])
                self.report.loaded += len(records)
            except asyncpg.DataError:
                # A value the checks above let through and the database refuses: find
                # it row by row, so the good rows of the batch still go in.
                for line, record in records.values():
                    try:
                        await self._write([record])
                        self.report.loaded += 1
                    except asyncpg.DataError as error:
                        self.report.fail(RowError(line, "row", f"refused by the database: {error}"))
        if self.on_batch is not None:
            self.on_batch(self.report)

    async def _write(self, records: list[tuple[Any, ...]]) -> None:
        """COPY into the staging table, upsert, empty the staging table: one transaction
        (a savepoint when the caller holds a transaction already)."""
        async with self.conn.transaction():
            if not self._staged:
                await self.conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
                    f"(LIKE router.accounts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                self._staged = True
            await self.conn.copy_records_to_table(
                _STAGE, records=records, columns=list(_DB_COLUMNS)
            )
            await self.conn.execute(_UPSERT)
            # ON COMMIT DELETE ROWS does not fire on a savepoint: empty it here.
            await self.conn.execute(f"TRUNCATE {_STAGE}")


async def owner_ids(conn: asyncpg.Connection) -> frozenset[str]:
    return frozenset(r["id"] for r in await conn.fetch("SELECT id FROM router.owners"))
