"""A job's child for ``tests/integration/plumbing/test_jobs.py``: the job table is in the
schema named by ``TEST_JOB_SCHEMA``; a job whose request says ``fail`` raises, else it
tells its progress twice and finishes with the request's ``n`` doubled."""

from __future__ import annotations

import os
from uuid import UUID

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import JSONB

from shared.db import SessionFactory
from shared.events.envelope import utcnow
from shared.jobs import finish_job, job_progress, run_child

TZ = DateTime(timezone=True)


def job_table(schema: str) -> Table:
    return Table(
        "jobs",
        MetaData(schema=schema),
        Column("id", Uuid, primary_key=True),
        Column("window_from", Date),
        Column("status", String(20), nullable=False),
        Column("request", JSONB, nullable=False),
        Column("total", Integer, nullable=False, server_default="0"),
        Column("done", Integer, nullable=False, server_default="0"),
        Column("result", JSONB),
        Column("error", Text),
        Column("ran_by", String(300), nullable=False),
        Column("ran_at", TZ, nullable=False),
        Column("heartbeat_at", TZ),
        Column("finished_at", TZ),
    )


async def work(sessions: SessionFactory, job: UUID) -> None:
    table = job_table(os.environ["TEST_JOB_SCHEMA"])
    async with sessions() as session:
        request = (await session.execute(select(table.c.request).where(table.c.id == job))).scalar()
    assert request is not None
    if request.get("fail"):
        raise RuntimeError("this job was asked to fail")
    for done in (1, 2):
        async with sessions() as session, session.begin():
            await job_progress(session, table, job, (done, 2), utcnow())
    async with sessions() as session, session.begin():
        await finish_job(session, table, job, {"n": request["n"] * 2}, utcnow())


if __name__ == "__main__":
    run_child(work)
