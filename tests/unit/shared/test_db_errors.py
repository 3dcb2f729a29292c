"""Telling a lost database connection (retry, 503) from a wrong statement (a bug)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError

from shared.db import lost_connection


def wrapped(orig: Exception) -> DBAPIError:
    return DBAPIError("SELECT 1", None, orig)


def test_a_connection_lost_mid_operation_is_a_lost_connection() -> None:
    assert lost_connection(wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")))
    assert lost_connection(wrapped(asyncpg.exceptions.InternalClientError("state 12")))
    assert lost_connection(wrapped(asyncpg.exceptions.AdminShutdownError("shutdown")))
    assert lost_connection(ConnectionRefusedError(111, "refused"))


def test_a_wrong_statement_is_not() -> None:
    assert not lost_connection(wrapped(asyncpg.exceptions.UniqueViolationError("dup")))
    assert not lost_connection(wrapped(asyncpg.exceptions.UndefinedTableError("no table")))
    assert not lost_connection(ValueError("bad data"))
