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


def test_an_outage_raised_in_a_middleware_is_a_503_not_a_500() -> None:
    """Starlette sends errors raised by a middleware (here: the idempotency edge's insert
    during a database restart) to the catch-all handler, not to the handlers by class."""
    from fastapi import FastAPI, Request, Response
    from fastapi.testclient import TestClient
    from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

    from shared.problems import install_problem_handlers

    class Failing(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            raise wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection"))

    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(Failing)
    answer = TestClient(app, raise_server_exceptions=False).get("/anything")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"
