"""Batches side by side on a CPU: the trial engine's batches of trials and the patient solver's chunks of patients.

One call of a compiled batch leaves most of a second CPU core idle (its kernels are small); several calls from
threads fill the cores. Every batch is the same executable on its own items (keys by global index), so results do
not depend on how many run at once.
"""

from __future__ import annotations

import collections
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import jax

__all__ = ["MAX_CPU_BATCH_WORKERS", "batch_workers", "map_batches"]

T = TypeVar("T")
R = TypeVar("R")

# At most this many batches in flight on a CPU (each holds its results until they are collected).
MAX_CPU_BATCH_WORKERS = 8


def batch_workers() -> int:
    """How many batches run at once: on a CPU one per usable core (at most
    :data:`MAX_CPU_BATCH_WORKERS`), else 1.

    Why: one executable of the trial engine or the patient solver leaves a second core nearly idle. XLA splits a
    batch's small kernels over its threads, and on 2 cores that gave the adaptr design no more trials per second
    than one core alone, while two batches side by side from two threads gave 1.4-1.7x through ``run_trials``
    (``benchmarks/bench_trials.py --cores``) and the patient solver 2.1x (``benchmarks/bench_patient.py
    --threads``), 2026-12-07. Results do not depend on it: every batch is the same executable on its own items."""
    if jax.default_backend() != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_CPU_BATCH_WORKERS))


def map_batches(run: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> Iterator[R]:
    """``run(item)`` for every item, yielded in order, with up to ``workers`` (default :func:`batch_workers`) calls
    running at once on threads (a jitted call releases the GIL while XLA runs it). At most ``workers`` results wait
    to be collected, so memory stays that of ``workers`` batches."""
    workers = batch_workers() if workers is None else workers
    it = iter(items)
    if workers <= 1:
        yield from map(run, it)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sepsim-batch") as pool:
        pending = collections.deque(pool.submit(run, item) for item in itertools.islice(it, workers))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(it, 1):
                pending.append(pool.submit(run, item))
            yield result
