"""``python -m bench.intake_launcher [--port N]``: intake as ``leadflow serve intake`` runs
it (the same command, so the same uvicorn settings), for the edges A/B of the HTTP bench.

With ``LEADFLOW_BENCH_EDGES=off`` (read here only, never by the service) the app is built
by intake's own factory and then stripped of its edges before it is served: every ASGI
middleware in ``app.user_middleware`` (tracing, request metrics, the body limits, the
back-pressure guard, the NUL guard, idempotency keys) and the bearer check of
``POST /v1/leads`` (the credential lookup answers a fixed caller: the endpoint calls
``shared.credentials.authorized`` itself, so this process's ``Verifier.caller`` is
replaced). What remains is the endpoint itself: validation, normalization, the dedup
lock and query, the lead row and its outbox row.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from fastapi import FastAPI

from services import cli
from services.catalog import SERVICES
from services.intake.app import create_app as create_intake_app
from shared.credentials import Caller, Verifier

EDGES_ENV = "LEADFLOW_BENCH_EDGES"
BENCH_CALLER = Caller(
    key_id="0000000000bench0", name="bench (no auth)", scopes=frozenset({"admin"})
)


async def _any_token(_verifier: Verifier, _token: str) -> Caller:
    return BENCH_CALLER


def strip_edges(app: FastAPI) -> FastAPI:
    app.user_middleware.clear()
    Verifier.caller = _any_token  # type: ignore[method-assign,assignment]  # this process only
    return app


def create_app() -> FastAPI:
    app = create_intake_app()
    edges = os.environ.get(EDGES_ENV, "on")
    if edges not in ("on", "off"):
        raise SystemExit(f"{EDGES_ENV} is 'on' or 'off', not {edges!r}")
    return strip_edges(app) if edges == "off" else app


def main() -> None:
    # ``leadflow serve`` imports the factory by name: this module's, not intake's.
    SERVICES["intake"] = dataclasses.replace(
        SERVICES["intake"], factory="bench.intake_launcher:create_app"
    )
    cli.app(["serve", "intake", *sys.argv[1:]], prog_name="leadflow")


if __name__ == "__main__":
    main()
