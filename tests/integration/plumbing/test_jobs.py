"""Jobs away from the live lane (``shared/jobs.py``) on the real database: a queue that
refuses more than its limit, claims oldest first and never one job twice, takes back a
job whose runner stopped beating; a runner that runs each in a child process, which
tells its progress and result, and a child that dies fails its job with its last word."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Table, select, text, update

from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.jobs import MOST_WAITING, STALE_S, JobRunner, TooManyJobs, claim_job, queue_job
from tests.support.infra import Infra
from tests.support.job_child import job_table


@pytest.fixture
async def jobs(
    sessions: SessionFactory, scratch_schema: str, monkeypatch: pytest.MonkeyPatch
) -> Table:
    table = job_table(scratch_schema)
    async with sessions() as session, session.begin():
        conn = await session.connection()
        await conn.run_sync(table.create)
    monkeypatch.setenv("TEST_JOB_SCHEMA", scratch_schema)
    return table


def job(request: dict[str, Any], *, minutes_ago: float = 0) -> dict[str, Any]:
    return {
        "id": uuid4(),
        "status": "queued",
        "request": request,
        "ran_by": "tests",
        "ran_at": utcnow() - timedelta(minutes=minutes_ago),
    }


async def row(sessions: SessionFactory, table: Table, job_id: UUID) -> dict[str, Any]:
    async with sessions() as session:
        found = (await session.execute(select(table).where(table.c.id == job_id))).first()
    assert found is not None
    return dict(found._mapping)


async def test_the_queue_has_a_limit_claims_oldest_first_and_takes_back_a_stale_job(
    sessions: SessionFactory, jobs: Table
) -> None:
    queued = [job({"n": n}, minutes_ago=MOST_WAITING - n) for n in range(MOST_WAITING)]
    for each in queued:
        async with sessions() as session, session.begin():
            await queue_job(session, jobs, each)
    with pytest.raises(TooManyJobs):
        async with sessions() as session, session.begin():
            await queue_job(session, jobs, job({"n": 99}))
    async with sessions() as session:
        assert await session.scalar(text(f"SELECT count(*) FROM {jobs.fullname}")) == MOST_WAITING
    async with sessions() as first, first.begin(), sessions() as second, second.begin():
        # two runners at once: each its own job, the oldest two
        one = await claim_job(first, jobs, utcnow())
        two = await claim_job(second, jobs, utcnow())
    assert [one, two] == [queued[0]["id"], queued[1]["id"]]
    async with sessions() as session, session.begin():  # the first one's runner stopped
        await session.execute(
            update(jobs)
            .where(jobs.c.id == one)
            .values(heartbeat_at=utcnow() - timedelta(seconds=STALE_S + 1))
        )
    async with sessions() as session, session.begin():
        again = await claim_job(session, jobs, utcnow())
    assert again == one  # taken back before the queued ones (older)


async def test_the_runner_runs_each_job_in_a_child_and_a_failing_child_fails_its_job(
    sessions: SessionFactory, jobs: Table, infra: Infra
) -> None:
    good, bad = job({"n": 21}, minutes_ago=1), job({"fail": True})
    for each in (good, bad):
        async with sessions() as session, session.begin():
            await queue_job(session, jobs, each)
    runner = JobRunner(sessions, infra.database_url, jobs, "tests.support.job_child", poll_s=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    try:
        for _ in range(300):
            states = [(await row(sessions, jobs, j["id"]))["status"] for j in (good, bad)]
            if all(state in ("done", "failed") for state in states):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running, 15)
    done, failed = await row(sessions, jobs, good["id"]), await row(sessions, jobs, bad["id"])
    assert (done["status"], done["result"], done["done"], done["total"]) == (
        "done",
        {"n": 42},
        2,
        2,
    )
    assert done["finished_at"] is not None
    assert failed["status"] == "failed"
    assert "this job was asked to fail" in failed["error"]
