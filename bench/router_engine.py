"""Decisions per second of router's pure engine (``decide``) against an in-memory index
of 10,000 and 1,000,000 accounts, by matching path, printed as a table.

    .venv/bin/python -m bench.router_engine [--sizes 10000 1000000] [--leads 10000]

The paths: a corporate domain that matches (the bulk of real traffic), a free-mail
address with a company name (the fuzzy path, scored only inside the name's block), and
a domain nobody has (every rule tried, down to a territory team's round robin). The
cost per lead should not grow with the account count beyond the fuzzy path's block.
Runs in well under two minutes on a laptop (building the million accounts dominates).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from uuid import UUID

from rich.console import Console
from rich.table import Table

from services.router.domain.matching import AccountIndex
from services.router.domain.model import Account, FirmAssignment, Lead, Owner, Snapshot, Team
from services.router.domain.rules import decide
from services.router.domain.ruleset import default_ruleset

SYLLABLES = [
    "ac",
    "me",
    "glo",
    "be",
    "no",
    "va",
    "ter",
    "ra",
    "blu",
    "nor",
    "th",
    "pe",
    "ak",
    "pri",
    "del",
    "ta",
    "or",
    "bit",
    "zen",
    "ir",
    "on",
    "ce",
    "dar",
    "ma",
    "ple",
    "ri",
    "ver",
    "sto",
    "ne",
    "vis",
    "lu",
    "men",
    "qu",
    "ant",
    "at",
    "las",
    "ko",
    "zu",
    "xi",
    "fa",
    "go",
    "hu",
    "jo",
    "ky",
    "li",
    "mo",
    "nu",
    "po",
    "sa",
    "tu",
    "wo",
    "ye",
]
WORDS = ["Systems", "Labs", "Foods", "Retail", "Logistics", "Health", "Energy", "Media"]
DAY = datetime(2026, 11, 20, 12, tzinfo=UTC)
FIRM = FirmAssignment("acme-outreach", date(2026, 1, 1), date(2026, 12, 31), date(2027, 1, 30))


def _name(i: int) -> str:
    """A made-up company name: a first word of 2-4 syllables, a trade, a number."""
    rng = random.Random(i)
    first = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()
    return f"{first} {rng.choice(WORDS)} {i} Inc"


def build(size: int) -> tuple[Snapshot, AccountIndex]:
    owners = {
        f"ae{i}": Owner(f"ae{i}", f"AE {i}", "AE", team_id="na-commercial", weight=1 + i % 3)
        for i in range(50)
    }
    accounts: dict[str, Account] = {}
    for i in range(size):
        accounts[f"a{i}"] = Account(
            f"a{i}",
            _name(i),
            frozenset({f"company{i}.com"}),
            owner_id=f"ae{i % 50}" if i % 4 else None,
            parent_id=f"a{i - 1}" if i % 10 == 9 else None,
            customer=i % 7 == 0,
            account_manager_id=f"ae{(i + 1) % 50}",
            country="US" if i % 2 else "DE",
            employees=i % 5000,
            firm_assignment=FIRM if i % 5 == 0 else None,
        )
    snapshot = Snapshot(
        accounts=accounts,
        owners=owners,
        teams={"na-commercial": Team("na-commercial", "NA commercial")},
        as_of=DAY,
    )
    return snapshot, AccountIndex(accounts)


def _leads(kind: str, size: int, count: int) -> list[Lead]:
    rng = random.Random(kind)
    out = []
    for n in range(count):
        i = rng.randrange(size)
        if kind == "domain":
            out.append(Lead(UUID(int=n), f"company{i}.com", False, DAY))
        elif kind == "fuzzy name":
            out.append(Lead(UUID(int=n), "gmail.com", True, DAY, company=_name(i)[:-4] + " Corp"))
        else:
            out.append(Lead(UUID(int=n), f"nobody{n}.org", False, DAY, country="US"))
    return out


def _measure(run: Callable[[Lead], object], leads: list[Lead]) -> tuple[float, float, float]:
    timings = []
    started = time.perf_counter()
    for lead in leads:
        t0 = time.perf_counter_ns()
        run(lead)
        timings.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - started
    timings.sort()
    p50 = statistics.median(timings) / 1000
    p99 = timings[int(len(timings) * 0.99) - 1] / 1000
    return len(leads) / elapsed, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--leads", type=int, default=10_000, help="leads per path")
    args = parser.parse_args()
    ruleset = default_ruleset()
    console = Console()
    table = Table(title=f"router engine, rule set {ruleset.version}")
    for column in ("accounts", "path", "decisions/s", "p50 µs", "p99 µs"):
        table.add_column(column, justify="right")
    for size in args.sizes:
        started = time.perf_counter()
        snapshot, index = build(size)
        console.print(
            f"built {size:,} accounts and their index in {time.perf_counter() - started:.1f} s"
        )

        def route(lead: Lead, snapshot: Snapshot = snapshot, index: AccountIndex = index) -> object:
            return decide(lead, snapshot, ruleset, index)

        for kind in ("domain", "fuzzy name", "no match"):
            rate, p50, p99 = _measure(route, _leads(kind, size, args.leads))
            table.add_row(f"{size:,}", kind, f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
