"""The slow-changing part of the routing workspace (owners as an admin set them, teams,
territories, the active rule set), cached per router process and keyed by the workspace
version: a random id that every write to those tables replaces in the same transaction
(statement triggers, migration 0005). A lead costs one small query: the version with the
fast-changing counts (round-robin counters, capacity-limited owners' open leads), which
are never cached. Another instance's admin write is seen on the next lead: its commit
changes the version the lead reads.

Reading the version before the tables (a later statement sees at least that commit) means
an entry may hold newer rows than its key, never older: at worst one extra reload.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.router import store
from services.router.domain.model import Coverage, Owner, Team, Territory, rosters_of
from services.router.domain.ruleset import RuleSet
from services.router.domain.sla import SlaPolicy
from services.router.tables import OwnerRow, TeamRow, TerritoryRow

KEPT = 4  # versions kept (a process may serve several databases, in tests)

# One round trip per lead: the version, then every counter and open-lead count.
_COUNTS = text(
    "SELECT 'v', version::text, NULL, 0 FROM router.workspace_version "
    "UNION ALL SELECT 'rr', team_id, owner_id, counter FROM router.round_robin "
    "UNION ALL SELECT 'open', id, NULL, open_leads FROM router.owners "
    "WHERE capacity IS NOT NULL"
)


@dataclass(frozen=True)
class Settled:
    version: UUID
    owners: dict[str, Owner]  # open_leads 0: the counts are read per lead
    teams: dict[str, Team]
    territories: dict[str, Territory]
    ruleset: RuleSet
    coverage: Coverage  # of ``territories``, shared by the snapshots of this version
    rosters: dict[str, tuple[str, ...]]  # each team's owner ids


@dataclass(frozen=True)
class Counts:
    """What changes with every lead, read fresh (under the team locks when taken)."""

    version: UUID
    round_robin: dict[tuple[str, str], int]
    open_leads: dict[str, int]


_cache: OrderedDict[UUID, Settled] = OrderedDict()


async def counts(session: AsyncSession) -> Counts:
    version: UUID | None = None
    round_robin: dict[tuple[str, str], int] = {}
    open_leads: dict[str, int] = {}
    for kind, key, owner_id, n in await session.execute(_COUNTS):
        if kind == "v":
            version = UUID(key)
        elif kind == "rr":
            round_robin[(key, owner_id)] = n
        else:
            open_leads[key] = n
    if version is None:
        raise RuntimeError("router.workspace_version has no row: run the migrations")
    return Counts(version, round_robin, open_leads)


async def settled(session: AsyncSession, version: UUID) -> Settled:
    """The workspace at ``version`` (or a little newer), from the cache when it is there."""
    found = _cache.get(version)
    if found is not None:
        _cache.move_to_end(version)
        return found
    owners = (await session.execute(select(OwnerRow))).scalars()
    teams = (await session.execute(select(TeamRow))).scalars()
    territories = (await session.execute(select(TerritoryRow))).scalars()
    by_id = {o.id: replace(store.owner_of(o), open_leads=0) for o in owners}
    places = {
        t.id: Territory(
            t.id,
            t.name,
            tuple(c.upper() for c in t.countries or ()),
            tuple(t.regions or ()),
            tuple(s.upper() for s in t.states or ()),
        )
        for t in territories
    }
    found = Settled(
        version=version,
        owners=by_id,
        teams={
            t.id: Team(t.id, t.name, t.queue, SlaPolicy.model_validate(t.sla) if t.sla else None)
            for t in teams
        },
        territories=places,
        ruleset=await store.active_ruleset(session),
        coverage=Coverage(places),
        rosters=rosters_of(by_id),
    )
    _cache[version] = found
    while len(_cache) > KEPT:
        _cache.popitem(last=False)
    return found
