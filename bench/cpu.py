"""Where the machine's CPU went during a phase: each process's user+system time from
``/proc`` (Linux). PostgreSQL counts its backends too (live ones, and exited ones through
the postmaster's reaped-children time); wrk, a child of this process that has exited when
the phase ends, is this process's reaped-children time.

CPU time per request is the steadier figure on a shared machine: a neighbour's load
stretches wall time (and so requests/s) far more than the CPU a request costs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: the fields after it follow the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _own_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _reaped_seconds(fields: list[str]) -> float:
    return (int(fields[13]) + int(fields[14])) / _TICK  # cutime, cstime


def _children_of(pid: int) -> list[list[str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[1]) == pid:  # ppid
                found.append(fields)
    return found


def process_seconds(pid: int, *, tree: bool = False) -> float:
    """CPU seconds of ``pid`` (with ``tree``: plus its live and exited children)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    seconds = _own_seconds(fields)
    if tree:
        seconds += _reaped_seconds(fields) + sum(_own_seconds(c) for c in _children_of(pid))
    return seconds


@dataclass(frozen=True)
class CpuSample:
    at: float  # monotonic
    seconds: dict[str, float]  # name -> CPU seconds so far

    def shares_since(self, earlier: CpuSample) -> dict[str, float]:
        """Percent of one core each process used from ``earlier`` to this sample."""
        wall = self.at - earlier.at
        return {n: 100 * (s - earlier.seconds.get(n, s)) / wall for n, s in self.seconds.items()}

    def seconds_since(self, earlier: CpuSample, name: str) -> float:
        return self.seconds[name] - earlier.seconds[name]


def sample(pids: Mapping[str, int], trees: frozenset[str] = frozenset()) -> CpuSample:
    """CPU seconds of each named process (``trees``: with its children), of wrk (this
    process's reaped children) and of this process (the bench client)."""
    seconds = {name: process_seconds(pid, tree=name in trees) for name, pid in pids.items()}
    own = _stat("self")
    seconds["wrk"] = _reaped_seconds(own) if own else 0.0
    seconds["bench client"] = _own_seconds(own) if own else 0.0
    return CpuSample(time.monotonic(), seconds)
