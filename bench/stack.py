"""What the HTTP bench runs against, all started and stopped here: an embedded PostgreSQL
and broker of its own (migrated, topics made, the demo workspace loaded, an admin
credential issued straight in the database), the four services as real processes, each
run as ``leadflow serve`` runs it (intake through ``bench.intake_launcher``, so that its
edges can be switched off for the A/B), and the ceiling servers.

Every child gets the parent-death signal and is stopped on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from services.catalog import SERVICES, migrate
from services.stack import load_demo
from shared import credentials
from shared.db import make_engine, make_sessions
from shared.embedded import (
    EMBEDDED_BROKER_SETTINGS,
    EmbeddedKafka,
    EmbeddedPostgres,
    die_with_parent,
    embedded_broker_settings,
    free_port,
)
from shared.kafka import ensure_topics
from shared.settings import Settings

EDGES_ENV = "LEADFLOW_BENCH_EDGES"  # read by bench.intake_launcher


@dataclass(frozen=True)
class Infra:
    database_url: str
    bootstrap_servers: str
    token: str  # an admin credential issued for this bench
    postgres: EmbeddedPostgres
    kafka: EmbeddedKafka

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            **EMBEDDED_BROKER_SETTINGS,
        }

    def pids(self) -> dict[str, int]:
        """The postmaster's and the broker's process ids (PostgreSQL's backends are the
        postmaster's children)."""
        assert self.postgres.process is not None
        assert self.kafka.process is not None
        return {"postgres": self.postgres.process.pid, "broker": self.kafka.process.pid}


async def issue_admin(database_url: str) -> str:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session, session.begin():
            issued = await credentials.issue(
                session, name="bench", scopes=("admin",), created_by="bench.intake_http"
            )
    finally:
        await engine.dispose()
    return issued.token


@contextlib.contextmanager
def bench_work(keep_logs: Path | None) -> Iterator[Path]:
    """A scratch directory for a bench run (the services' logs go in ``logs/``), removed
    afterwards; its logs are copied to ``keep_logs`` when given, and on failure kept anyway
    (in a new directory when not given, which is said)."""
    work = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    try:
        yield work
    except BaseException:
        kept = keep_logs or Path(tempfile.mkdtemp(prefix="leadflow-bench-logs-"))
        if (work / "logs").exists():
            shutil.copytree(work / "logs", kept, dirs_exist_ok=True)
        print(f"bench failed; its logs are kept in {kept}")
        raise
    else:
        if keep_logs and (work / "logs").exists():
            shutil.copytree(work / "logs", keep_logs, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def embedded_infra(work: Path, *, durable: bool = False) -> Iterator[Infra]:
    """PostgreSQL (fsync off unless ``durable``, as the tests run it) and Tansu on free
    ports, ready for the services."""
    postgres = EmbeddedPostgres(work / "postgres", fast=not durable)
    kafka = EmbeddedKafka(log_path=work / "broker.log")
    try:
        postgres.start()
        kafka.start()
        migrate(postgres.url)
        settings = Settings(
            database_url=postgres.url,
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            **embedded_broker_settings(),  # type: ignore[arg-type]
        )
        asyncio.run(ensure_topics(settings))
        asyncio.run(load_demo(postgres.url))
        token = asyncio.run(issue_admin(postgres.url))
        yield Infra(postgres.url, kafka.bootstrap_servers, token, postgres, kafka)
    finally:
        kafka.stop()
        postgres.stop()


async def spawn(
    args: Sequence[str], env: dict[str, str], log: IO[bytes]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


async def terminate(process: asyncio.subprocess.Process, timeout_s: float = 30) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_ready(url: str, process: asyncio.subprocess.Process, timeout_s: float = 90) -> None:
    """Until ``url`` answers 200 (``/readyz`` of a service, anything of a ceiling app)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


@dataclass
class Services:
    """The four services as child processes, on ports fixed for the whole bench (intake
    keeps its port when restarted with or without its edges)."""

    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in SERVICES})
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    intake_edges: bool = True
    _logs: list[IO[bytes]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    async def _start(self, name: str) -> None:
        port = str(self.ports[name])
        env = {**self.env, "LEADFLOW_INSTANCE": f"{name}-bench"}
        if name == "intake":
            args = [sys.executable, "-m", "bench.intake_launcher", "--port", port]
            env[EDGES_ENV] = "on" if self.intake_edges else "off"
        else:
            args = [sys.executable, "-m", "services.cli", "serve", name, "--port", port]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115, ASYNC230 - the child's
        self._logs.append(log)
        self.children[name] = await spawn(args, env, log)

    async def start_all(self) -> None:
        for name in SERVICES:
            await self._start(name)
        for name in SERVICES:
            await wait_ready(f"{self.url(name)}/readyz", self.children[name])

    async def set_intake_edges(self, edges: bool) -> bool:
        """Restart intake with or without its edges; False if it already ran that way."""
        if edges == self.intake_edges:
            return False
        await terminate(self.children.pop("intake"))
        self.intake_edges = edges
        await self._start("intake")
        await wait_ready(f"{self.url('intake')}/readyz", self.children["intake"])
        return True

    def pids(self) -> dict[str, int]:
        return {name: child.pid for name, child in self.children.items()}

    async def stop_all(self) -> None:
        await asyncio.gather(*(terminate(c) for c in self.children.values()))
        self.children.clear()
        for log in self._logs:
            log.close()


@contextlib.asynccontextmanager
async def ceiling_server(
    kind: str, env: dict[str, str], log_dir: Path
) -> AsyncIterator[tuple[str, int]]:
    """``bench.ceilings`` serving ``kind`` (bare or raw) on a free port; yields its URL
    and process id."""
    port = free_port()
    with open(log_dir / f"ceiling-{kind}.log", "ab") as log:  # noqa: ASYNC230
        process = await spawn(
            [sys.executable, "-m", "bench.ceilings", kind, "--port", str(port)], env, log
        )
        try:
            await wait_ready(f"http://127.0.0.1:{port}/", process, timeout_s=60)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            await terminate(process)
