"""The garbage collector set for a long-running service: what the process built to start
(modules, caches, the workspace) is moved out of the collector's sight once, and a young
collection waits for 10,000 new objects instead of CPython's 700.

A batch of 200 leads allocates hundreds of thousands of short-lived objects (events,
rows, traces), almost none in cycles; with the default thresholds the collector ran
dozens of times per batch and rescanned every long-lived object at each full collection:
15-20% of the router's handler time (bench/router_consumer.py, paired runs 1,071-1,349 →
1,461-1,484 leads/s). Cyclic garbage still goes, just in larger steps."""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 10)


def settle() -> None:
    """Collect once, freeze what survives (it is never scanned again), raise the
    thresholds. Call when start-up is done, before the service takes work."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
