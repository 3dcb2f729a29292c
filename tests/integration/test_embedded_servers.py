"""The embedded servers take a preferred port only when it is theirs: with another
program listening there, PostgreSQL and the broker move to a free port and say which
(``moved_from``), and are ready only once *their* process serves; a restart keeps its
port (its clients hold the URL) and fails rather than move."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.embedded import EmbeddedKafka, EmbeddedPostgres, holds_listener


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.fixture
def work() -> Iterator[Path]:
    """Outside pytest's /tmp/pytest-of-<user> (reset to 0700 by other sessions, which a
    PostgreSQL run as its own user under root cannot then reach)."""
    directory = Path(tempfile.mkdtemp(prefix="leadflow-embedded-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_broker_moves_off_a_taken_port_and_a_restart_keeps_its_own(
    taken: int, work: Path
) -> None:
    kafka = EmbeddedKafka(port=taken, log_path=work / "broker.log").start()
    try:
        assert kafka.moved_from == taken
        assert kafka.port != taken
        assert kafka.process is not None
        assert holds_listener(kafka.process.pid, kafka.port)
        moved = kafka.port
        kafka.stop()
        kafka.start()
        assert kafka.port == moved
    finally:
        kafka.stop()


def test_a_restart_whose_port_was_taken_fails_rather_than_move(work: Path) -> None:
    kafka = EmbeddedKafka(log_path=work / "broker.log").start()
    kafka.stop()
    with socket.socket() as other:
        other.bind(("127.0.0.1", kafka.port))
        other.listen()
        with pytest.raises(RuntimeError, match="before serving"):
            kafka.start(timeout_s=10)


async def test_postgres_moves_off_a_taken_port(taken: int, work: Path) -> None:
    postgres = EmbeddedPostgres(work / "postgres", port=taken, fast=True).start()
    try:
        assert postgres.moved_from == taken
        assert postgres.port != taken
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres")
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
    finally:
        postgres.stop()
