"""The dashboard's cache: one answer reused while young, one load at a time; one answer
per filter, for a bounded number of filters."""

from __future__ import annotations

import asyncio

from services.ops.aggregates import Cached, CachedPerKey


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


async def test_each_filter_has_its_own_answer_and_the_least_recently_used_makes_room() -> None:
    loads: list[str] = []

    async def load(key: str) -> str:
        loads.append(key)
        return f"board for {key}"

    cached = CachedPerKey(load, ttl_s=60, keys=2)
    assert await cached.get("firm=a") == "board for firm=a"
    assert await cached.get("firm=b") == "board for firm=b"
    assert await cached.get("firm=a") == "board for firm=a"  # reused
    assert await cached.get("firm=c") == "board for firm=c"  # b, used longest ago, goes
    assert await cached.get("firm=a") == "board for firm=a"
    assert await cached.get("firm=b") == "board for firm=b"
    assert loads == ["firm=a", "firm=b", "firm=c", "firm=b"]
