"""The engine's batches of trials, in this process or shared with worker processes (one per CPU core).

One compiled trial executable keeps about one CPU core busy: XLA's threads add 4-14% and two forced host devices a
third on two cores, while two processes side by side reach 1.8-1.9x (``benchmarks/bench_trials.py --cores``,
``bench_trials.md``). Running two executables at once from threads of one process gets the same speed but can
deadlock XLA's CPU client (``benchmarks/threads_deadlock.py``), so the cores are used by **worker processes**, one
per core, each pinned to its core and with its own XLA client:

- the batches are numbered; this process and every worker take the next unclaimed number until none is left
  (work stealing, so a worker that starts late, or a core that is slower, costs nothing). This process computes
  batches only until the first worker delivers, then only feeds the workers (it would otherwise compete with them
  for their cores);
- a worker is a fresh interpreter running ``worker.py`` as a script (not ``multiprocessing``: the caller's
  ``__main__`` is not re-imported, so an unguarded script can use it too). It imports JAX and NumPy only, not
  sepsim: it receives this process's compiled trial executable (``jax.experimental.serialize_executable``; where
  XLA refuses to serialize it, the program by ``jax.export``, which the worker compiles with the engine's XLA
  options), the outcome tables and thresholds, and the caller's JAX settings (x64, threefry partitioning), and
  computes the batches it is sent from their keys, bit for bit as this process would. Its first batch comes ~2 s
  after its start (Python and JAX imports), ~5 s where it compiles;
- this process talks to each worker from a thread that only moves pickles through the worker's pipes (it never
  calls JAX); the results are gathered by batch number, so they are identical to a run in this process alone.

``processes="auto"`` starts workers only where they pay: on a CPU backend with one device (forced host devices
split batches their own way, with other rounding; an explicit N > 1 is refused there), with more than one core available
(``os.sched_getaffinity``: taskset and SLURM's cpusets count), once the first batches say that the rest of the run
takes longer than :data:`SPAWN_AFTER_S` in this process alone.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import serialize_executable

from ..._errors import ConfigError
from ..._progress import progress_bar, progress_mode
from .shard import engine_compiler_options

__all__ = ["SPAWN_AFTER_S", "Batched", "available_cores", "check_processes", "run_batches"]

log = logging.getLogger("sepsim")

# With "auto", workers start once this process alone would need longer than this for the remaining batches: a
# worker's start (~2 s of one core: Python and JAX imports, the executable loaded) is then well repaid.
SPAWN_AFTER_S = 10.0
_WORKER = Path(__file__).with_name("worker.py")
_EXECUTABLES: dict[tuple, Any] = {}  # ahead-of-time compiled batches, by function and argument shapes

# the JAX settings a worker copies from the caller (they change what the trial function computes)
_JAX_SETTINGS = ("jax_enable_x64", "jax_threefry_partitionable", "jax_default_matmul_precision")


def _settings() -> dict[str, Any]:
    return {k: getattr(jax.config, k) for k in _JAX_SETTINGS}


def check_processes(processes: int | str, key: str = "processes") -> int | str:
    """``processes``: 1 (this process only), N > 1 (N worker processes; a CPU backend with one device) or
    ``"auto"``; raises :class:`~sepsim._errors.ConfigError` naming ``key`` otherwise."""
    if processes == "auto":
        return processes
    if isinstance(processes, bool) or not isinstance(processes, int | np.integer) or processes < 1:
        raise ConfigError(key, f"must be a positive integer or 'auto', got {processes!r}")
    if processes > 1 and jax.default_backend() == "cpu" and len(jax.devices()) > 1:
        raise ConfigError(
            key,
            f"worker processes run one device each; this process has {len(jax.devices())} host devices "
            "(XLA_FLAGS=--xla_force_host_platform_device_count): give 1, or drop the forced devices",
        )
    if processes > 1 and jax.default_backend() != "cpu":
        raise ConfigError(
            key,
            f"worker processes share the CPU cores; the default backend is {jax.default_backend()!r}: give 1 (an "
            "accelerator runs a batch on its own; raise chunk_size instead, README_engine.md 'Several devices')",
        )
    return int(processes)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which taskset and SLURM's cpusets set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Batched(NamedTuple):
    """One batch of trials: ``jitted(*before, keys, *after)`` (``jitted``: a ``jax.jit`` function, or
    :func:`~sepsim.platform._engine.shard.over_trial_devices`' dispatcher with its one-device function as
    ``.single``)."""

    jitted: Any
    before: tuple
    after: tuple

    def __call__(self, keys: Any) -> Any:
        return self.jitted(*self.before, keys, *self.after)


def run_batches(
    batched: Batched,
    keys: Any,
    *,
    n_trials: int,
    chunk: int,
    progress: bool | None,
    processes: int | str = 1,
) -> Any:
    """Every batch of ``keys`` (``chunk`` trials each; the last padded) through ``batched`` in this process, or
    shared with worker processes that run the same compiled executable on the same keys.

    Returns the results of the first ``n_trials`` trials, concatenated along the leading axis, as NumPy arrays.
    ``processes``: 1 (this process only), N (N worker processes, started at once; this process computes batches
    until the first of them delivers, then only feeds them) or ``"auto"`` (one worker per available core, started
    once the run is long enough; see the module notes).
    """
    processes = check_processes(processes)
    n_batches = -(-n_trials // chunk)
    sizes = [min(chunk, n_trials - i * chunk) for i in range(n_batches)]
    want: int = available_cores() if isinstance(processes, str) else processes  # check_processes: "auto" or int
    one_cpu = jax.default_backend() == "cpu" and len(jax.devices()) == 1  # "auto" on several devices: no workers
    want = min(want, n_batches) if want > 1 and n_batches > 1 and one_cpu else 0
    work = _Batches(batched, keys, chunk, sizes)
    if want > 0:  # the executable that workers may get, compiled once (and the batches here run it too)
        batched = Batched(work.compiled(), batched.before, batched.after)
    with progress_bar(n_trials, desc="trials", unit="trials", mode=progress_mode(progress)) as bar:
        try:
            if want > 0 and processes != "auto":
                work.start(want)
            first = True  # the first batch of a call may include the compilation: not a rate
            while (i := work.claim(here=True)) is not None:
                t0 = time.monotonic()
                res = jax.device_get(batched(keys[i * chunk : (i + 1) * chunk]))
                work.out[i] = jax.tree_util.tree_map(lambda x, s=sizes[i]: np.asarray(x)[:s], res)
                bar.update(sizes[i])
                work.drain(bar)
                pays = (time.monotonic() - t0) * work.left() > SPAWN_AFTER_S
                if want > 0 and not work.started and not first and pays:
                    work.start(want)
                first = False
            work.finish(bar)
        except BaseException:
            work.close(kill=True)
            raise
        work.close(kill=False)
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *work.out)


class _Batches:
    """The batches of one :func:`run_batches` call: the counter of unclaimed batch numbers, shared by this process
    and the threads that feed its worker processes, and the results by batch number."""

    def __init__(self, batched: Batched, keys, chunk: int, sizes: list[int]):
        self.batched, self.keys, self.chunk, self.sizes = batched, keys, chunk, sizes
        self.out: list[Any] = [None] * len(sizes)
        self.lock = threading.Lock()
        self.next = 0
        self.stopped = False
        self.done: queue.Queue[tuple[str, int]] = queue.Queue()
        self.procs: list[subprocess.Popen] = []
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.started = False
        self.running = 0  # feeding threads not yet finished
        self.t_start = 0.0
        self.by_workers: list[int] = []  # batches each worker computed
        self.first_s: list[float | None] = []  # per worker: seconds from the workers' start to its first result
        self.last_s: list[float] = []  # per worker: ... to its last result
        self.delivered = False  # a worker has delivered a batch (this process then stops computing)

    def compiled(self) -> Any:
        """The one-device executable of a batch (what this process runs while workers may start, and what they get):
        compiled ahead of time once per function and argument shapes (``_EXECUTABLES``), so that serializing it
        for the workers needs no second compilation (``jit(...).lower().compile()`` after jit's own call traced and
        compiled the immunosep design again: 6.7 s)."""
        b = self.batched
        one = getattr(b.jitted, "single", b.jitted)  # a worker runs on one device whatever this process has
        args = (*b.before, self.keys[: self.chunk], *b.after)
        leaves, tree = jax.tree_util.tree_flatten(args)
        sig = (one, tree, tuple((x.shape, str(x.dtype)) for x in leaves), tuple(_settings().values()))
        if sig not in _EXECUTABLES:
            if len(_EXECUTABLES) >= 16:
                _EXECUTABLES.pop(next(iter(_EXECUTABLES)))
            _EXECUTABLES[sig] = one.lower(*args).compile()
        return _EXECUTABLES[sig]

    def claim(self, here: bool = False) -> int | None:
        """The next unclaimed batch number (None: none left). ``here``: for this process, which stops computing
        once a worker has delivered (the workers then have a core each)."""
        with self.lock:
            if self.stopped or self.errors or self.next >= len(self.sizes) or (here and self.delivered):
                return None
            self.next += 1
            return self.next - 1

    def left(self) -> int:
        with self.lock:
            return len(self.sizes) - self.next

    def start(self, n: int) -> None:
        """Start ``n`` worker processes and a feeding thread for each."""
        self.started = True
        self.t_start = time.monotonic()
        b, keys = self.batched, self.keys
        typed = jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)
        self.key_data = np.asarray(jax.random.key_data(keys) if typed else keys)
        job = dict(
            before=jax.tree_util.tree_leaves(b.before),
            after=jax.tree_util.tree_leaves(b.after),
            impl=str(jax.random.key_impl(keys)) if typed else None,
        )
        job.update(self._program(typed))
        # the settings first, in a pickle of their own: the job's arrays must be unpickled under them (a float64
        # array read before x64 is on would come back float32)
        blob = pickle.dumps(_settings()) + pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        # one device per worker (its executable is a one-device one): no forced host devices
        flags = [
            f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")
        ]
        env["XLA_FLAGS"] = " ".join(flags)
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        for w in range(n):
            if cpus:  # each worker pinned to its own core, from the last (this process's threads float)
                env["SEPSIM_WORKER_CPU"] = str(cpus[-1 - w % len(cpus)])
            # -P: the script's folder (this package's modules) is not put on sys.path
            proc = subprocess.Popen(
                [sys.executable, "-P", str(_WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
            )
            self.procs.append(proc)
            self.by_workers.append(0)
            self.first_s.append(None)
            self.last_s.append(0.0)
            thread = threading.Thread(target=self._feed, args=(proc, blob, len(self.procs) - 1), daemon=True)
            self.threads.append(thread)
            self.running += 1
            thread.start()

    def _program(self, typed: bool) -> dict[str, Any]:
        """What a worker runs: this process's compiled executable, serialized; where XLA cannot serialize it (in
        jax 0.10.2 an executable with a sort comparator, e.g. permuted blocks, is refused: "`LessThan` is not
        serializable"), the program itself (``jax.export``, flat in and out, keys as raw key data), which the worker
        compiles with the engine's XLA options: ~3 s more before its first batch."""
        b, keys = self.batched, self.keys[: self.chunk]
        one = getattr(b.jitted, "single", b.jitted)
        compiled = self.compiled()
        self.out_tree = compiled.out_tree
        try:
            return dict(executable=serialize_executable.serialize(compiled)[0], n_out=self.out_tree.num_leaves)
        except Exception as err:  # noqa: BLE001 - any refusal: send the program instead
            log.info("trials: XLA cannot serialize the executable (%s); the workers compile the program", err)
        args_tree = jax.tree_util.tree_structure((b.before, b.after))
        impl = jax.random.key_impl(keys) if typed else None
        n_before = len(jax.tree_util.tree_leaves(b.before))
        inner = getattr(one, "__wrapped__", one)  # the unjitted function: compiler options go on the outer jit

        def flat(*leaves):
            before, after = jax.tree_util.tree_unflatten(args_tree, leaves[:n_before] + leaves[n_before + 1 :])
            k = jax.random.wrap_key_data(leaves[n_before], impl=impl) if typed else leaves[n_before]
            return jax.tree_util.tree_leaves(inner(*before, k, *after))

        data = jax.random.key_data(keys) if typed else keys
        leaves = [*jax.tree_util.tree_leaves(b.before), data, *jax.tree_util.tree_leaves(b.after)]
        exported = jax.export.export(jax.jit(flat))(*leaves)
        return dict(exported=exported.serialize(), options=engine_compiler_options())

    def _feed(self, proc: subprocess.Popen, job: bytes, w: int) -> None:
        """Send one worker batch numbers until none is left, two at a time (the next one waits in its pipe while it
        computes one, so it never waits for this process); in a thread of its own: pipes and pickles, no JAX."""
        i = None
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        sent: collections.deque[int] = collections.deque()

        def send() -> None:
            if (i := self.claim()) is not None:
                lo = i * self.chunk
                pickle.dump(("batch", i, (self.key_data[lo : lo + self.chunk], self.sizes[i])), stdin)
                stdin.flush()
                sent.append(i)

        try:
            stdin.write(job)
            send()
            send()
            while sent:
                i = sent.popleft()
                kind, j, payload = pickle.load(stdout)
                if kind == "error":
                    self._fail(f"a trial worker process failed on batch {j}:\n{payload}")
                    return
                self.out[j] = jax.tree_util.tree_unflatten(self.out_tree, payload)  # pytree only: no JAX call
                now = time.monotonic() - self.t_start
                if self.first_s[w] is None:
                    self.first_s[w] = now
                self.last_s[w] = now
                self.by_workers[w] += 1
                self.delivered = True
                self.done.put(("done", self.sizes[j]))
                send()
            pickle.dump(("stop", None, None), stdin)
            stdin.flush()
        except Exception as err:  # noqa: BLE001 - a pipe broken by a worker that died
            if not self.stopped:
                try:
                    code = proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    code = None
                self._fail(f"a trial worker process stopped (exit code {code}) on batch {i}: {err!r}")
        finally:
            self.done.put(("thread", 0))

    def _fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def _take(self, bar, block: bool) -> None:
        kind, n = self.done.get(block=block)
        if kind == "done":
            bar.update(n)
        else:
            self.running -= 1

    def drain(self, bar) -> None:
        """Count the workers' finished batches on the progress bar (only the calling thread updates it)."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._take(bar, block=False)

    def finish(self, bar) -> None:
        """Wait for the workers' last batches, then raise the first worker error, if any."""
        while self.running:
            self._take(bar, block=True)
        if self.errors:
            raise RuntimeError(self.errors[0])
        if self.started:
            # after its first result, a worker's seconds per batch (what its core gives, start-up excluded)
            pace = [
                round((last - first) / (n - 1), 3) if first is not None and n > 1 else None
                for first, last, n in zip(self.first_s, self.last_s, self.by_workers, strict=True)
            ]
            log.info(
                "trials: %d of %d batches in worker processes %s (first results %s s after their start, then %s s "
                "per batch)",
                sum(self.by_workers),
                len(self.sizes),
                self.by_workers,
                [None if t is None else round(t, 1) for t in self.first_s],
                pace,
            )
        missing = [i for i, r in enumerate(self.out) if r is None]
        if missing:  # only after an error above; guard the results' completeness all the same
            raise RuntimeError(f"trial batches {missing[:5]} were never computed")

    def close(self, *, kill: bool) -> None:
        """Let the workers exit (they were sent ``stop``), or kill them (this process is failing)."""
        with self.lock:
            self.stopped = True
        for proc in self.procs:
            if kill:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(Exception):
                    pipe.close()  # type: ignore[union-attr]
        for thread in self.threads:
            thread.join(timeout=10)
