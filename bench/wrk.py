"""One wrk run of ``leads.lua``: every request a new lead, flat out or paced at a fixed rate;
its figures read from the JSON the script's ``done()`` writes."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).with_name("leads.lua")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    non2xx: int  # wrk counts answers with a status above 399
    socket_errors: int  # connect, read, write errors and timeouts
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    max_lag_ms: float  # paced: how far behind its schedule a thread fell at most

    @property
    def per_s(self) -> float:
        return self.requests / self.duration_s

    @property
    def accepted_per_s(self) -> float:
        return (self.requests - self.non2xx) / self.duration_s


async def run_wrk(
    wrk: str,
    url: str,
    *,
    tag: str,
    token: str,
    threads: int,
    connections: int,
    duration_s: float,
    rate: float = 0,
    log_dir: Path,
) -> WrkResult:
    """``rate`` requests/s in all (0: flat out). ``tag`` must be new: it makes the emails."""
    out = log_dir / f"wrk-{tag}.json"
    env = {
        **os.environ,
        "LF_TAG": tag,
        "LF_TOKEN": token,
        "LF_RATE": str(rate / threads),
        "LF_OUT": str(out),
    }
    args = [
        wrk,
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{duration_s:g}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
    ]
    with open(log_dir / f"wrk-{tag}.log", "wb") as log:  # noqa: ASYNC230 - wrk's own
        process = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        if await process.wait() != 0:
            raise RuntimeError(f"wrk exited with {process.returncode}; see {log.name}")
    got = json.loads(out.read_text())
    return WrkResult(
        requests=got["requests"],
        duration_s=got["duration_us"] / 1e6,
        non2xx=got["non2xx"],
        socket_errors=got["connect"] + got["read"] + got["write"] + got["timeout"],
        p50_ms=got["p50_us"] / 1000,
        p95_ms=got["p95_us"] / 1000,
        p99_ms=got["p99_us"] / 1000,
        max_ms=got["max_us"] / 1000,
        max_lag_ms=got["max_lag_ms"],
    )
