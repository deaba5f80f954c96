"""A trial worker process, started by ``batches.run_batches`` as ``python -P worker.py`` (a script: it imports
JAX and NumPy only, not sepsim).

Reads pickles from stdin: the caller's JAX settings, then the job (the serialized trial executable, the arguments
before and after the keys as flat leaves, the key implementation, the number of results), then batches
``("batch", number, (key data, size))`` until ``("stop", ...)``. Writes ``("result", number, leaves)`` (the first
``size`` trials of each result) or ``("error", number, traceback)`` to stdout; anything else the process prints goes
to stderr, so the result stream stays clean.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any


def serve(stdin: Any, stdout: Any) -> None:
    import jax
    import numpy as np
    from jax.experimental import serialize_executable

    try:
        for name, value in pickle.load(stdin).items():  # the caller's JAX settings, before any array is read
            jax.config.update(name, value)
        job = pickle.load(stdin)
    except EOFError:  # the caller went away
        return
    before, after = job["before"], job["after"]
    if "executable" in job:  # the caller's compiled executable
        flat = jax.tree_util.tree_structure
        in_tree = flat(((0,) * (len(before) + 1 + len(after)), {}))
        run = serialize_executable.deserialize_and_load(job["executable"], in_tree, flat([0] * job["n_out"]))
    else:  # the caller's program (flat in and out, raw key data), compiled here with the engine's options
        exported = jax.export.deserialize(job["exported"])
        run = jax.jit(exported.call, compiler_options=job["options"])
    while True:
        try:
            kind, i, payload = pickle.load(stdin)
        except EOFError:
            return
        if kind == "stop":
            return
        try:
            data, size = payload
            typed = job["impl"] and "executable" in job  # an exported program takes the raw key data
            keys = jax.random.wrap_key_data(data, impl=job["impl"]) if typed else jax.numpy.asarray(data)
            reply: tuple = ("result", i, [np.asarray(x)[:size] for x in jax.device_get(run(*before, keys, *after))])
        except Exception:  # noqa: BLE001 - sent back whole and raised in the caller
            reply = ("error", i, traceback.format_exc())
        pickle.dump(reply, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()
        if reply[0] == "error":
            return


if __name__ == "__main__":
    if os.environ.get("SEPSIM_WORKER_CPU") and hasattr(os, "sched_setaffinity"):  # pinned to its core (Linux)
        os.sched_setaffinity(0, {int(os.environ["SEPSIM_WORKER_CPU"])})
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (of any library) go to stderr
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, results)
