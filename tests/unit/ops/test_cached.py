"""The dashboard's cache: one answer reused while young, one load at a time."""

from __future__ import annotations

import asyncio

from services.ops.aggregates import Cached


async def test_an_answer_is_reused_while_young_and_loaded_once_for_concurrent_callers() -> None:
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return loads

    cached = Cached(load, ttl_s=0.2)
    assert list(await asyncio.gather(cached.get(), cached.get(), cached.get())) == [1, 1, 1]
    assert await cached.get() == 1
    await asyncio.sleep(0.25)
    assert await cached.get() == 2
    assert loads == 2
