"""The running stack for the end-to-end tests: started once for this package and stopped
after its last test. Its services run their timers and credit's review sweep on the wall
clock against the session's database, so they must not outlive the package: the
integration tests after it write rows dated in the past (due, to a running sweep) and
assert nothing changes them but what they do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.infra import Infra
from tests.support.stack import Stack, run_stack


@pytest.fixture(scope="package")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with run_stack(infra, tmp_path_factory.mktemp("stack-logs")) as running:
        yield running
