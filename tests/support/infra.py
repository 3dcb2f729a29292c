"""Real PostgreSQL and a real Kafka-protocol broker for the test session.

Taken from DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set (a fresh database is created
on that server and dropped afterwards); otherwise embedded ones start on free ports.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from services.catalog import migrate
from shared.db import asyncpg_dsn
from shared.embedded import (
    EMBEDDED_BROKER_SETTINGS,
    EmbeddedKafka,
    EmbeddedPostgres,
    embedded_broker_settings,
)
from shared.kafka import ensure_topics
from shared.settings import Settings
from tests.support.credentials import register_test_credentials


@dataclass(frozen=True)
class Infra:
    database_url: str
    bootstrap_servers: str
    idempotence: bool
    postgres: EmbeddedPostgres | None
    kafka: EmbeddedKafka | None

    def env(self) -> dict[str, str]:
        env = {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.idempotence).lower(),
        }
        if self.kafka is not None:
            env.update(EMBEDDED_BROKER_SETTINGS)
        return env

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.database_url,
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_enable_idempotence": self.idempotence,
            "log_format": "console",
            "log_level": "WARNING",
            "outbox_idle_wakeup_s": 2.0,
        }
        if self.kafka is not None:
            values.update(embedded_broker_settings())
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


async def _create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def fresh_database(infra: Infra) -> Iterator[str]:
    """A migrated database of its own, for a test that must not share the session's
    (for example one whose rows no running service may touch)."""
    server = make_url(infra.database_url)
    name = f"{server.database}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(infra.database_url, name))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        register_test_credentials(url)
        yield url
    finally:
        asyncio.run(_drop_database(infra.database_url, name))


@contextmanager
def start_infra(work_dir: Path) -> Iterator[Infra]:
    postgres = kafka = None
    server_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    idempotence = os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "true").lower() == "true"
    try:
        if not server_url:
            postgres = EmbeddedPostgres(work_dir / "postgres", fast=True).start()
            server_url = postgres.url
        if not bootstrap:
            kafka = EmbeddedKafka(log_path=work_dir / "broker.log").start()
            bootstrap = kafka.bootstrap_servers
            idempotence = False
        name = f"leadflow_test_{secrets.token_hex(4)}"
        asyncio.run(_create_database(server_url, name))
        database_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        infra = Infra(database_url, bootstrap, idempotence, postgres, kafka)
        migrate(database_url)
        register_test_credentials(database_url)
        asyncio.run(ensure_topics(infra.settings()))
        yield infra
        asyncio.run(_drop_database(server_url, name))
    finally:
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()
