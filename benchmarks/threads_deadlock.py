"""Reproducer: the trial engine's compiled batches called from two threads at once can hang XLA's CPU client.

Why it is here: calling one compiled batch per core from a thread pool ran ``run_trials`` 1.44x faster for the
adaptr design with identical results (commit 3ea744d, reverted in 37a8d5c), but the logistic engine of
``tests/platform/test_engine_logistic.py`` hung with two batches of 1,500-2,000 trials in flight: both calls wait in
``device_get`` for ever while every XLA thread is idle (``benchmarks/bench_trials.md``, 2026-12-07). This script
runs that case outside the engine's own loop: ``--trials`` trials of the logistic design in batches of
``--batch``, ``--threads`` batches at once, and reports whether it finished within ``--timeout`` seconds (exit 0)
or hung (exit 3). One thread is the control.

Usage: ``python benchmarks/threads_deadlock.py [--threads 2] [--batch 2000] [--trials 8000] [--timeout 120]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=8000)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, str(ROOT / "tests" / "platform"))
    import test_engine_logistic as logistic  # the design and table of the test that hung

    from sepsim import stage_key
    from sepsim._keys import index_keys
    from sepsim.platform import design_from_dict
    from sepsim.platform._engine.run import make_trial_function

    fn, _ = make_trial_function(design_from_dict(logistic.DESIGN), logistic._table(1.0, 7))
    key = stage_key(7, "trials-null")
    batches = [index_keys(key, lo, args.batch) for lo in range(0, args.trials, args.batch)]
    jax.block_until_ready(fn(batches[0]))  # compile before the clock

    done = threading.Event()
    result: dict = dict(threads=args.threads, batch=args.batch, trials=args.trials, jax=jax.__version__)

    def run() -> None:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(lambda k: jax.device_get(fn(k)), batches))
        result["seconds"] = time.perf_counter() - t0
        done.set()

    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(args.timeout)
    result["finished"] = finished
    print(json.dumps(result), flush=True)
    os._exit(0 if finished else 3)  # hung XLA calls cannot be joined


if __name__ == "__main__":
    main()
