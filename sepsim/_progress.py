"""Progress reporting: a tqdm bar on a terminal, plain log lines in batch jobs (SLURM, CI, pipes).

Long stages (patients x arms, trial chunks) report through :func:`progress_bar`, which yields an object with tqdm's
``update(n)``: a real bar where a person is watching, and otherwise an INFO line on the ``sepsim`` logger at most
every ``every_s`` seconds and at the end, which is what a SLURM log should hold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

from tqdm.auto import tqdm

__all__ = ["progress_bar", "progress_mode", "use_bar"]

log = logging.getLogger("sepsim")


def use_bar(mode: str = "auto") -> bool:
    """Whether to draw a bar: ``"bar"``, ``"log"``, or ``"auto"`` (bar only on an interactive terminal)."""
    if mode == "bar":
        return True
    if mode == "log":
        return False
    return sys.stderr.isatty() and "SLURM_JOB_ID" not in os.environ


def progress_mode(flag: bool | None) -> str:
    """The mode for an engine's ``progress`` flag: None -> auto, True -> bar, False -> log lines only."""
    return "auto" if flag is None else ("bar" if flag else "log")


class _LogLines:
    """tqdm's ``update`` interface, reporting as log lines."""

    def __init__(self, total: int, desc: str, unit: str, every_s: float):
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.n, self.start = 0, time.monotonic()
        self.last = self.start

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.n >= self.total:
            log.info("%s: %d/%d %s (%.1f s)", self.desc, self.n, self.total, self.unit, now - self.start)
            self.last = now


@contextlib.contextmanager
def progress_bar(
    total: int, *, desc: str, unit: str = "chunk", mode: str = "auto", every_s: float = 10.0
) -> Iterator[tqdm | _LogLines]:
    """A progress reporter for ``total`` units of work: ``with progress_bar(...) as bar: ... bar.update(k)``."""
    if use_bar(mode):
        with tqdm(total=total, desc=desc, unit=unit, leave=False) as bar:
            yield bar
    else:
        yield _LogLines(total, desc, unit, every_s)
