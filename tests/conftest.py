"""Session fixtures: real PostgreSQL and broker (started once, only when a test needs
them), the running stack for end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.db import SessionFactory, make_engine, make_sessions
from tests.support.infra import Infra, start_infra
from tests.support.stack import Stack, run_stack


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with start_infra(tmp_path_factory.mktemp("infra")) as started:
        yield started


@pytest.fixture(scope="session")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with run_stack(infra, tmp_path_factory.mktemp("stack-logs")) as running:
        yield running


@pytest.fixture
async def sessions(infra: Infra) -> AsyncIterator[SessionFactory]:
    engine = make_engine(infra.database_url, pool_size=5)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()
