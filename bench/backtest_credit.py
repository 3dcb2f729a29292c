"""Leads per second through the credit backtest (issue 18), under the firm's current
contract (the reproducibility proof: its differences are printed) and under a draft, in
the same run.

    .venv/bin/python -m bench.backtest_credit [--leads 10000] [--runs 3]

Starts its own embedded PostgreSQL (migrated for credit) with one firm under the default
contract (no acceptance step), decides ``--leads`` leads' facts through credit's real
handlers (``bench.credit_consumer``'s mix: half the firm's own, half inbound, every fifth
touched, every tenth with a meeting booked and held; 200 facts a transaction) and its
sweep, then times ``backtest_credit`` over the window: the leads' facts, decisions,
contracts, touches, caps and ledger read, and every lead decided again by the service's
own ``plan``. The ceiling: the facts read alone (``store.lead_facts_of``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bench.credit_consumer import FIRM, decide_leads
from bench.harness import migrated_database, print_runs
from services.credit import store
from services.credit.backtest import backtest_credit
from services.credit.domain.contract import PriceTier, Terms
from shared import heap
from shared.db import SessionFactory, driver_connection, make_engine, make_sessions

DRAFT = Terms(
    acceptance_business_days=0, meeting_tiers=[PriceTier(from_nth=1, price=Decimal("500.00"))]
)


async def _reads(sessions: SessionFactory, window: tuple[date, date], leads: int) -> float:
    start = datetime.combine(window[0], datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(window[1], datetime.min.time(), tzinfo=UTC)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        conn = await driver_connection(session)
        found = await store.firm_leads_received(conn, FIRM, start, end, limit=leads + 1)
        await store.lead_facts_of(conn, [lead for lead, _ in found])
    return leads / (time.perf_counter() - started)


async def _main(database_url: str, leads: int, runs: int, markdown: bool) -> None:
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    today = datetime.now(UTC).date()
    window = (today - timedelta(days=1), today + timedelta(days=1))
    try:
        async with sessions() as session, session.begin():
            await store.add_contract(session, FIRM, Terms(acceptance_business_days=0))
        started = time.perf_counter()
        await decide_leads(sessions, 0, leads, 200)
        print(f"{leads} leads decided in {time.perf_counter() - started:.0f} s", flush=True)
        heap.settle()  # as a job's child process does
        proof: list[float] = []
        draft: list[float] = []
        reads: list[float] = []
        for run in range(runs):
            started = time.perf_counter()
            same = await backtest_credit(sessions, FIRM, None, window)
            proof.append(leads / (time.perf_counter() - started))
            if same.leads != leads:
                raise RuntimeError(f"the backtest found {same.leads} of {leads} leads")
            started = time.perf_counter()
            moved = await backtest_credit(sessions, FIRM, DRAFT, window)
            draft.append(leads / (time.perf_counter() - started))
            reads.append(await _reads(sessions, window, leads))
            print(
                f"run {run + 1}: proof {proof[-1]:,.0f} leads/s ({same.differences} "
                f"differences: {same.changes[0].why if same.changes else 'none'}), "
                f"draft {draft[-1]:,.0f} "
                f"leads/s ({moved.differences} decided otherwise), facts read alone "
                f"{reads[-1]:,.0f}/s",
                flush=True,
            )
    finally:
        await engine.dispose()
    print_runs(
        f"credit backtest, {leads:,} leads of one firm",
        [
            ("the proof (current contract), leads/s", proof, "{:,.0f}"),
            ("a draft (meeting price 500.00), leads/s", draft, "{:,.0f}"),
            ("the facts read alone, leads/s (ceiling)", reads, "{:,.0f}"),
            ("draft / reads", [d / r for d, r in zip(draft, reads, strict=True)], "{:.2f}"),
            ("1,000,000 leads at the draft's rate, s", [1_000_000 / d for d in draft], "{:,.0f}"),
        ],
        markdown=markdown,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with migrated_database(["credit"]) as url:
        asyncio.run(_main(url, args.leads, args.runs, args.markdown))


if __name__ == "__main__":
    main()
