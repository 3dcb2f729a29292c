"""Credentials the tests use, registered in every test database once it is migrated: one
ops credential per scope, with fixed tokens (test databases only)."""

from __future__ import annotations

import asyncio

from shared.access_tables import credentials
from shared.credentials import hash_token
from shared.db import make_engine, make_sessions

ADMIN = "lf_00000000000000ad_tests-admin-credential"
SALES = "lf_000000000000005a_tests-sales-credential"
READ = "lf_00000000000000e0_tests-read-credential"
SUBMIT = "lf_000000000000005b_tests-submit-credential"
BY_SCOPE = {"admin": ADMIN, "sales": SALES, "read": READ, "submit": SUBMIT}


def bearer(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session, session.begin():
            for scope, token in BY_SCOPE.items():
                await session.execute(
                    credentials.insert().values(
                        key_id=token.split("_")[1],
                        name=f"tests ({scope})",
                        scopes=[scope],
                        token_sha256=hash_token(token),
                        created_by="tests",
                    )
                )
    finally:
        await engine.dispose()


def register_test_credentials(database_url: str) -> None:
    asyncio.run(_register(database_url))
