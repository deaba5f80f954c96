"""Progress reporting: a tqdm bar on a terminal, plain log lines in batch jobs (SLURM, CI, pipes)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["progress", "use_bar"]

T = TypeVar("T")
log = logging.getLogger("sepsim")


def use_bar(mode: str = "auto") -> bool:
    """Whether to draw a bar: ``"bar"``, ``"log"``, or ``"auto"`` (bar only on an interactive terminal)."""
    if mode == "bar":
        return True
    if mode == "log":
        return False
    return sys.stderr.isatty() and "SLURM_JOB_ID" not in os.environ


def progress(items: Iterable[T], *, total: int, desc: str, mode: str = "auto", every_s: float = 10.0) -> Iterator[T]:
    """Iterate ``items`` with a bar, or with an INFO log line at most every ``every_s`` seconds and at the end."""
    if use_bar(mode):
        yield from tqdm(items, total=total, desc=desc, leave=False)
        return
    start = last = time.monotonic()
    for i, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_s or i == total:
            log.info("%s: %d/%d chunks (%.1f s)", desc, i, total, now - start)
            last = now
