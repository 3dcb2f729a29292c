"""How the pipeline benches (``bench.intake_http``, ``bench.live_during_import``) follow
their leads through a running stack: each lead's registration time read from intake's
table, when its events first appeared on the watched topics (``bench.clock.TopicClock``,
read as a neighbouring service would), and waiting until the leads of a phase (or every
lead) have their ``credit.decided`` event, so that each phase can start from an idle
pipeline.

A bench's leads carry its campaign, ``<nonce>-<tag>``: the nonce is new for every bench,
so every email it makes is new too.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable

import asyncpg

from bench.clock import TopicClock
from shared.db import asyncpg_dsn
from shared.events.topics import CREDITS_DECIDED


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


class PipelineWatch:
    """``seen[topic][lead id]``: when the lead's first event on ``topic`` was read
    (``credits.decided`` is always watched: ``credited``)."""

    def __init__(
        self, database_url: str, bootstrap: str, *topics: str, drain_timeout_s: float
    ) -> None:
        self.database_url = database_url
        self.clock = TopicClock(bootstrap, *dict.fromkeys((CREDITS_DECIDED.name, *topics)))
        self.seen = self.clock.seen
        self.credited = self.seen[CREDITS_DECIDED.name]
        self.drain_timeout_s = drain_timeout_s
        self.nonce = secrets.token_hex(3)  # every email of this bench is new
        self.db: asyncpg.Pool | None = None

    def campaign(self, tag: str) -> str:
        """The campaign (and email prefix) of the phase ``tag``'s leads."""
        return f"{self.nonce}-{tag}"

    async def start(self) -> None:
        self.db = await asyncpg.create_pool(asyncpg_dsn(self.database_url), min_size=1, max_size=2)
        await self.clock.start()

    async def stop(self) -> None:
        await self.clock.stop()
        if self.db is not None:
            await self.db.close()

    async def leads_of(self, tag: str | None) -> dict[str, float]:
        """Lead id -> registration time of the leads of a phase (``None``: all of them)."""
        assert self.db is not None
        if tag is None:
            rows = await self.db.fetch("SELECT id::text, received_at FROM intake.leads")
        else:
            rows = await self.db.fetch(
                "SELECT id::text, received_at FROM intake.leads WHERE campaign = $1",
                self.campaign(tag),
            )
        return {r["id"]: r["received_at"].timestamp() for r in rows}

    async def decided(self, tag: str | None) -> dict[str, float]:
        """Wait until every lead of ``tag`` (or every lead) has its credit.decided event;
        returns their registration times. The ids are read again until they hold still
        (requests in flight when the load generator stopped still commit)."""
        deadline = time.monotonic() + self.drain_timeout_s
        while True:
            leads = await self.leads_of(tag)
            if tag is not None and not leads:
                raise RuntimeError(f"no lead of {tag} was registered")
            missing = leads.keys() - self.credited.keys()
            if not missing:
                await asyncio.sleep(0.5)
                if len(await self.leads_of(tag)) == len(leads):
                    return leads
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(missing)} of {len(leads)} leads ({tag or 'all'}) had no credit "
                    f"decision after {self.drain_timeout_s:g}s"
                )
            await asyncio.sleep(0.5)

    async def settle(self) -> None:
        """The pipeline idle: every lead so far decided, then a moment for the last
        commits and the relays."""
        await self.decided(None)
        await asyncio.sleep(1)

    def first_seen(self, lead_id: str, *topics: str) -> float | None:
        """When the lead's first event on any of ``topics`` was read (None: not yet)."""
        times = [self.seen[t][lead_id] for t in topics if lead_id in self.seen[t]]
        return min(times) if times else None

    async def until_seen(self, lead_ids: Iterable[str], *topics: str) -> None:
        """Wait until each of ``lead_ids`` has an event on one of ``topics`` (a set known
        in full, so no re-reading of the database: fit for a 100,000-lead import)."""
        missing = set(lead_ids)
        deadline = time.monotonic() + self.drain_timeout_s
        while True:
            missing = {i for i in missing if not any(i in self.seen[t] for t in topics)}
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(missing)} leads had no event on {' or '.join(topics)} after "
                    f"{self.drain_timeout_s:g}s"
                )
            await asyncio.sleep(0.5)
