"""Session fixtures: real PostgreSQL and broker (started once, only when a test needs
them). The running stack for end-to-end tests is in ``tests/e2e/conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.db import SessionFactory, make_engine, make_sessions
from tests.support.infra import Infra, start_infra


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with start_infra(tmp_path_factory.mktemp("infra")) as started:
        yield started


@pytest.fixture
async def sessions(infra: Infra) -> AsyncIterator[SessionFactory]:
    engine = make_engine(infra.database_url, pool_size=5)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()
