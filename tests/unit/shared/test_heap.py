from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_settling_freezes_what_survives_start_up_and_raises_the_thresholds() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    heap.settle()
    assert gc.get_freeze_count() > 1000  # this process's modules, at least
    assert gc.get_threshold() == heap.THRESHOLDS
    assert gc.get_count()[0] < heap.THRESHOLDS[0]
