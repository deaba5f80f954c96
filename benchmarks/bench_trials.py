"""Trials per second of the trial engine: the adaptr design and the immunosep design, float64 and float32.

Rows (each measured in a fresh worker process per dtype, so float64 and float32 run side by side in one run):

- ``adaptr quadrature``: trial_oracles.md's adaptr example (3 arms, event rates 0.25, RAR proportional to P(best)
  with minimum 0.2, 18 analyses at 300..2000 patients with outcomes, 400..2000 randomised, superiority 0.9814318 /
  inferiority 0.0185682, equivalence P(all within 0.05) > 0.9), P(best) by quadrature with the design's default
  number of nodes (65 since the sixth-order CDF operator; 97 in trees before it, e.g. a ``--baseline-src``).
- ``adaptr quadrature (97 nodes)``: 97 nodes whatever the default (the old default resolution).
- ``immunosep quadrature``: the ``immunosep`` experiment's design (two strata, per-stratum 1:1 comparisons
  against placebo, 280 randomised) on a mechanistic outcome table (``population.n_patients`` virtual patients
  through the patient model, built once and cached under ``.cache/sepsim/bench/``).
- ``adaptr run_trials (default batch)``, ``immunosep run_trials (default batch)``: ``run_trials`` end to end on
  10,000 trials at the timed tree's default batch size (``default_chunk``: 512 at most on a CPU since 2026-12-07,
  2000 before), best of 3 runs after a warm-up run; the rows above time single compiled batches of 2000.
- ``adaptr draws (5000)``: adaptr's 5000 posterior draws per arm per look (``--draws``; minutes per dtype).
- ``numpy adaptr (5000 draws)``: a plain NumPy port of adaptr's ``run_trial`` loop, one trial at a time.

``--baseline-src DIR`` runs the same engine rows with the sepsim source tree in DIR (e.g. ``git archive`` of the
pre-change commit unpacked there) in the same run, as the baseline: two workers per tree in the order this tree,
baseline, baseline, this tree, each row keeping the better of its tree's two workers (the JSON keeps both rates).
``--profile`` times the parts of one look of the adaptr design on a batch of 2000 trials (beta grid, P(best),
P(all equivalent), allocation, decisions) and reads XLA's FLOP count of each. ``--batches`` (alone, in this
process) times one compiled adaptr batch at each of ``BATCH_SIZES`` and ``run_trials`` at the default batch against
``chunk_size=2000`` in alternating pairs; run it under ``taskset -c 0`` or with two forced host devices to compare
those setups. ``--emitters`` (alone, in this process) times the engine compiled with its XLA options
(``engine_compiler_options``: XLA's elemental IR emitters on a CPU) against XLA's defaults on the same keys in
alternating pairs, and checks that the two give identical results. ``--cores`` times the adaptr design in fresh
processes on one core, on both cores through XLA's threads, with two host devices, and as two single-core
processes side by side (what the two cores can give). ``--processes`` (alone, in this process) times
``run_trials`` on 200,000 adaptr and 100,000 immunosep trials (``--trials N``: N and N / 2; ``--pairs``) in this
process alone against worker processes (``processes="auto"``), whole calls in alternating pairs, and checks that
the two give identical Datasets.

Timing: compile first, then the minimum over repeats of wall time around ``block_until_ready``; CPU time of the
worker is reported too (other processes on a shared machine inflate wall time, not CPU time). Peak host memory is
the worker's maximum resident set size.

Usage: ``python benchmarks/bench_trials.py [--quick] [--json PATH] [--dtype float64|float32|both]
[--baseline-src DIR] [--profile] [--draws]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

S = 0.9814318
LOOKS = list(range(300, 2001, 100))
RANDOMISED = list(range(400, 2001, 100)) + [2000]
ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / ".cache" / "sepsim" / "bench" / "immunosep_table.nc"


def _design(method: str, n_grid: int | None = None) -> dict:
    """The adaptr example; ``n_grid=None`` leaves the quadrature nodes at the design default of the tree timed."""
    analysis = dict(method=method, n_draws=5000) | ({} if n_grid is None else dict(n_grid=n_grid))
    return dict(
        arms=["A", "B", "C"],
        look_n=LOOKS,
        higher_is_better=False,
        allocation=dict(rule="thompson", min_prob=0.2),
        stopping=dict(superiority=S, inferiority=1 - S, equivalence_prob=0.9, equivalence_margin=0.05),
        enrolment=dict(randomised_n=RANDOMISED),
        analysis=analysis,
    )


def _immunosep_cfg(n_patients: int):
    from sepsim.cli import compose_config
    from sepsim.config import validate

    over = ["experiment=immunosep", "runtime.cache=false", f"population.n_patients={n_patients}"]
    return validate(compose_config(over))


def _plain(node):
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def build_immunosep_table(path: Path, n_patients: int) -> Path:
    """The immunosep mechanistic outcome table (eligible patients), as the pipeline builds it; cached at ``path``."""
    if path.exists():
        return path
    from sepsim.pipeline import _eligible, _outcomes_from_models, _solved
    from sepsim.platform import design_from_dict

    cfg = _immunosep_cfg(n_patients)
    design = design_from_dict(_plain(cfg.design))
    table, _ = _outcomes_from_models(cfg)
    table, _ = _solved(table)
    table = _eligible(table, design, cfg.endpoint.stratum)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.load().to_netcdf(path)
    return path


def _engine_case(name: str, table_path: str | None):
    """(design, outcomes) of a row."""
    from sepsim._keys import stage_key
    from sepsim.platform import binary_scenario, design_from_dict, from_dataset

    if name.startswith("immunosep"):
        import xarray as xr

        cfg = _immunosep_cfg(1200)
        design = design_from_dict(_plain(cfg.design))
        table = xr.open_dataset(table_path, decode_times=False).load()
        out = from_dataset(table, endpoint=cfg.endpoint.variable, stratum=cfg.endpoint.stratum, strata=design.strata)
        return design, out
    method = "draws" if "draws" in name else "quadrature"
    n_grid = 97 if "97" in name else None
    out = binary_scenario([0.25, 0.25, 0.25], 50_000, key=stage_key(1, "cohort"))
    return design_from_dict(_design(method, n_grid)), out


def _time_engine(name: str, batch: int, repeats: int, table_path: str | None) -> dict:
    import jax

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._engine.run import make_trial_function

    design, out = _engine_case(name, table_path)
    fn, _ = make_trial_function(design, out)
    keys = index_keys(stage_key(2, "bench"), 0, batch)
    t0 = time.perf_counter()
    res = jax.block_until_ready(fn(keys))
    compile_s = time.perf_counter() - t0
    walls, cpus, sup = [], [], [np.asarray(res["units"].outcome)[:, 0] == 1]
    for r in range(repeats):
        keys = index_keys(stage_key(2, "bench"), (r + 1) * batch, batch)
        c0, w0 = time.process_time(), time.perf_counter()
        res = jax.block_until_ready(fn(keys))
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        sup.append(np.asarray(res["units"].outcome)[:, 0] == 1)
    return dict(
        trials=batch,
        wall_s=min(walls),
        trials_per_s=batch / min(walls),
        cpu_ms_per_trial=1e3 * min(cpus) / batch,
        compile_s=compile_s,
        p_superiority=float(np.mean(np.concatenate(sup))),  # the same trial keys for every row and dtype
        p_superiority_trials=batch * (repeats + 1),
    )


def _time_run(name: str, n_trials: int, repeats: int, table_path: str | None) -> dict:
    """``run_trials`` end to end on ``n_trials`` trials at the tree's default batch size (what a user gets: batches,
    padding of the last one, transfers and the results Dataset); best of ``repeats`` runs after a warm-up run."""
    import jax

    from sepsim._keys import stage_key
    from sepsim.platform import run_trials
    from sepsim.platform._engine.run import default_chunk

    design, out = _engine_case(name, table_path)
    t0 = time.perf_counter()
    run_trials(out, design, n_trials=n_trials, key=stage_key(2, "bench"), progress=False)
    compile_s = time.perf_counter() - t0
    walls, cpus, sup = [], [], []
    for r in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        ds = run_trials(out, design, n_trials=n_trials, key=stage_key(3 + r, "bench"), progress=False)
        jax.block_until_ready(ds["trial_outcome"].values)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        sup.append(ds["trial_outcome"].values == 1)
    return dict(
        trials=n_trials,
        batch=default_chunk(design, n_trials),
        wall_s=min(walls),
        trials_per_s=n_trials / min(walls),
        cpu_ms_per_trial=1e3 * min(cpus) / n_trials,
        compile_s=compile_s,
        p_superiority=float(np.mean(np.concatenate(sup))),
        p_superiority_trials=n_trials * repeats,
    )


# ---- NumPy port of adaptr's run_trial (no common control), the baseline ------------------------------------------
_EPS = np.sqrt(np.finfo(float).eps)


def _reallocate(pb: np.ndarray, min_p: float) -> np.ndarray:
    """adaptr ``reallocate_probs`` with minimum limits only (as in this design)."""
    final = np.full(pb.shape, np.nan)
    while abs(np.nansum(final) - 1) > _EPS:
        total = 1 - np.nansum(final)
        rem = np.isnan(final)
        s = pb[rem].sum()
        tmp = np.where(rem, total * (pb / s if s > 0 else 1 / rem.sum()), final)
        low = rem & (tmp < min_p)
        tmp[low] = final[low] = min_p
        if abs(tmp.sum() - 1) <= _EPS:
            final = tmp
        if not np.any(np.isnan(final)) and abs(final.sum() - 1) > _EPS:
            final = final / final.sum()
    return final


def _numpy_trial(rng: np.random.Generator, n_draws: int = 5000) -> int:
    true_p = np.array([0.25, 0.25, 0.25])
    k = 3
    alloc = np.full(k, 1 / k)
    active = np.ones(k, bool)
    arms = np.empty(RANDOMISED[-1], int)
    ys = np.empty(RANDOMISED[-1])
    total = 0
    for look, followed in enumerate(LOOKS):
        n_new = RANDOMISED[look] - total
        if n_new > 0:
            idx = np.flatnonzero(active)
            new = rng.choice(idx, size=n_new, p=alloc[idx])
            arms[total : total + n_new] = new
            ys[total : total + n_new] = rng.random(n_new) < true_p[new]
            total = RANDOMISED[look]
        a_f, y_f = arms[:followed], ys[:followed]

        def draws(act, a_f=a_f, y_f=y_f):
            idx = np.flatnonzero(act)
            n = np.array([np.sum(a_f == i) for i in idx])
            e = np.array([np.sum(y_f[a_f == i]) for i in idx])
            return idx, rng.beta(1 + e, 1 + n - e, size=(n_draws, idx.size))

        idx, m = draws(active)
        pb = np.bincount(np.argmin(m, axis=1), minlength=idx.size) / n_draws
        while np.any(pb < 1 - S):
            active[idx[pb < 1 - S]] = False
            idx, m = draws(active)
            pb = np.bincount(np.argmin(m, axis=1), minlength=idx.size) / n_draws
        if pb.max() > S:
            return 1
        if np.mean(m.max(axis=1) - m.min(axis=1) < 0.05) > 0.9:
            return 2
        alloc = np.zeros(k)
        alloc[idx] = _reallocate(pb, 0.2)
    return 0


def _time_numpy(n: int) -> dict:
    rng = np.random.default_rng(1)
    c0, w0 = time.process_time(), time.perf_counter()
    out = [_numpy_trial(rng) for _ in range(n)]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return dict(
        trials=n,
        wall_s=wall,
        trials_per_s=n / wall,
        cpu_ms_per_trial=1e3 * cpu / n,
        compile_s=0.0,
        p_superiority=float(np.mean(np.asarray(out) == 1)),
        p_superiority_trials=n,
    )


def _worker(args) -> None:
    """One dtype's engine rows in this process; prints one JSON line."""
    import jax

    jax.config.update("jax_enable_x64", args.dtype == "float64")
    quad, draws = ((500, 2), (50, 1)) if args.quick else ((2000, 5), (200, 2))
    runs = (1000, 1) if args.quick else (10_000, 3)
    rows = {
        "adaptr quadrature": _time_engine("adaptr quadrature", *quad, None),
        "adaptr quadrature (97 nodes)": _time_engine("adaptr quadrature (97 nodes)", *quad, None),
        "immunosep quadrature": _time_engine("immunosep quadrature", *quad, args.table),
        "adaptr run_trials (default batch)": _time_run("adaptr quadrature", *runs, None),
        "immunosep run_trials (default batch)": _time_run("immunosep quadrature", *runs, args.table),
    }
    if args.draws:
        rows["adaptr draws (5000)"] = _time_engine("adaptr draws (5000)", *draws, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(dict(rows=rows, peak_host_mib=peak, jax=jax.__version__)))


def _run_worker(dtype: str, quick: bool, draws: bool, table: Path, src: str | None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, __file__, "--worker", "--dtype", dtype, "--table", str(table)]
    cmd += ["--quick"] * quick + ["--draws"] * draws
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=src or ROOT)
    if out.returncode:
        raise RuntimeError(f"worker ({dtype}, src={src}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


BATCH_SIZES = (128, 256, 384, 512, 768, 1000, 2000, 8000)


def _core_worker(args) -> None:
    """``--cores``: the adaptr design's compiled batches of 500 trials one after another (float64, best of the
    batches), in this process as configured by the parent (CPU affinity, forced host devices); one JSON line."""
    import jax

    jax.config.update("jax_enable_x64", True)
    row = _time_engine("adaptr quadrature", 500, 4 if args.quick else 12, None)
    print(json.dumps(dict(row, devices=len(jax.devices()), cpus=sorted(os.sched_getaffinity(0)))))


def cores(quick: bool) -> dict:
    """How the engine uses a 2-core machine, each setup in fresh worker processes: one process on one core (pinned
    with ``sched_setaffinity``), one process on both cores through XLA's threads (the default), one process with
    two host devices (each batch split between them), and two single-core processes side by side (each pinned to
    its own core, started together; their rates add up): what the two cores can give."""
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--cores needs at least 2 CPUs")
    cmd = [sys.executable, __file__, "--core-worker"] + ["--quick"] * quick

    def start(cpus: set[int] | None, devices: int = 1) -> subprocess.Popen:
        env = dict(os.environ)
        if devices > 1:
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"

        def pin() -> None:
            if cpus is not None:
                os.sched_setaffinity(0, cpus)

        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=pin)

    def finish(*procs: subprocess.Popen) -> list[dict]:
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError("a --cores worker failed")
        return [json.loads(o.strip().splitlines()[-1]) for o in outs]

    res = {
        "one core": finish(start({0})),
        "both cores, XLA threads": finish(start(None)),
        "both cores, two host devices": finish(start(None, devices=2)),
        "two single-core processes": finish(start({0}), start({1})),
    }
    return dict(setups=res, trials_per_s={k: sum(r["trials_per_s"] for r in v) for k, v in res.items()})


def _print_cores(res: dict) -> None:
    print("adaptr design, float64, batches of 500 (best of the batches); a setup's rate is its processes' sum:")
    for name, rows in res["setups"].items():
        per = ", ".join(f"{r['trials_per_s']:.0f} trials/s at {1e3 * r['cpu_ms_per_trial']:.0f} us CPU" for r in rows)
        print(f"  {name:32s} {res['trials_per_s'][name]:8.0f} trials/s  ({per})")


def batch_sizes(table_path: str, quick: bool) -> dict:
    """This process only (float64, the local devices as configured): (1) one compiled batch of the adaptr design at
    each of :data:`BATCH_SIZES`, best of 4 batches; (2) ``run_trials`` on 10,000 trials of each design at the
    default batch against ``chunk_size=2000``, both in this process, in alternating pairs (the median of each)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from sepsim._keys import index_keys, stage_key
    from sepsim.platform import run_trials
    from sepsim.platform._engine.run import default_chunk, make_trial_function

    design, out = _engine_case("adaptr quadrature", None)
    fn, _ = make_trial_function(design, out)
    sweep = {}
    for b in BATCH_SIZES[:3] if quick else BATCH_SIZES:
        jax.block_until_ready(fn(index_keys(stage_key(2, "bench"), 0, b)))
        walls, cpus = [], []
        for r in range(4):
            keys = index_keys(stage_key(2, "bench"), (r + 1) * b, b)
            c0, w0 = time.process_time(), time.perf_counter()
            jax.block_until_ready(fn(keys))
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        sweep[b] = dict(trials_per_s=b / min(walls), cpu_us_per_trial=1e6 * min(cpus) / b)
    n, pairs = (2000, 1) if quick else (10_000, 6)
    ab = {}
    for name in ("adaptr quadrature", "immunosep quadrature"):
        design, out = _engine_case(name, table_path)
        res: dict[str, list[tuple[float, float]]] = {"default": [], "2000": []}
        sizes = {"default": None, "2000": 2000}
        for label in sizes:  # compile both batch shapes first
            run_trials(out, design, n_trials=n, key=stage_key(2, "bench"), progress=False, chunk_size=sizes[label])
        for r in range(pairs):
            for label in ("default", "2000") if r % 2 == 0 else ("2000", "default"):
                c0, w0 = time.process_time(), time.perf_counter()
                run_trials(out, design, n_trials=n, key=stage_key(3 + r, "bench"), progress=False,
                           chunk_size=sizes[label])  # fmt: skip
                res[label].append((time.perf_counter() - w0, time.process_time() - c0))
        ab[name] = dict(
            default_batch=default_chunk(design, n),
            **{
                f"{label}_{k}": v
                for label, rows in res.items()
                for k, v in (
                    ("trials_per_s", n / float(np.median([w for w, _ in rows]))),
                    ("cpu_us_per_trial", 1e6 * float(np.median([c for _, c in rows])) / n),
                )
            },
        )
    return dict(devices=len(jax.devices()), sweep=sweep, run_trials=ab, trials=n, pairs=pairs)


def emitters(table_path: str, quick: bool) -> dict:
    """This process only (float64): the engine compiled with its XLA options (``engine_compiler_options``: the
    elemental IR emitters on a CPU) against XLA's defaults, both in this process, on the same trial keys: 10,000
    trials of each design in batches of the default size, in alternating pairs (the median of each), and whether
    the two give identical results."""
    import contextlib

    import jax

    jax.config.update("jax_enable_x64", True)
    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._engine import run as run_mod
    from sepsim.platform._engine import shard
    from sepsim.platform._engine.run import default_chunk, make_trial_function

    @contextlib.contextmanager
    def xla_defaults():
        saved = shard._CPU_OPTIONS
        shard._CPU_OPTIONS = {}
        shard._options_for.cache_clear()
        run_mod._compiled.cache_clear()
        try:
            yield
        finally:
            shard._CPU_OPTIONS = saved
            shard._options_for.cache_clear()
            run_mod._compiled.cache_clear()

    n, pairs = (2000, 2) if quick else (10_000, 6)
    out: dict = dict(options=shard.engine_compiler_options())
    for name in ("adaptr quadrature", "immunosep quadrature"):
        design, table = _engine_case(name, table_path)
        batch = default_chunk(design, n)
        fns = {"engine": make_trial_function(design, table)[0]}
        with xla_defaults():
            fns["xla_default"] = make_trial_function(design, table)[0]
        batches = [index_keys(stage_key(2, "bench"), i, batch) for i in range(0, n, batch)]
        results = {label: [jax.device_get(fn(k)) for k in batches] for label, fn in fns.items()}  # compile + check
        leaves = zip(*(jax.tree_util.tree_leaves(results[label]) for label in fns), strict=True)
        identical = all(np.array_equal(a, b, equal_nan=a.dtype.kind == "f") for a, b in leaves)
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in fns}
        for r in range(pairs):
            for label in list(fns) if r % 2 == 0 else list(fns)[::-1]:
                c0, w0 = time.process_time(), time.perf_counter()
                for k in batches:
                    jax.block_until_ready(fns[label](k))
                times[label].append((time.perf_counter() - w0, time.process_time() - c0))
        out[name] = dict(
            batch=batch,
            identical=identical,
            **{
                f"{label}_{k}": v
                for label, rows in times.items()
                for k, v in (
                    ("trials_per_s", len(batches) * batch / float(np.median([w for w, _ in rows]))),
                    ("cpu_us_per_trial", 1e6 * float(np.median([c for _, c in rows])) / (len(batches) * batch)),
                )
            },
        )
    return dict(out, trials=n, pairs=pairs, devices=len(jax.devices()))


def processes_ab(table_path: str, quick: bool, trials: int | None = None, pairs: int | None = None) -> dict:
    """This process (float64): ``run_trials`` on many trials of each design in this process alone
    (``processes=1``) against worker processes (``processes="auto"``: one per available core, started once the
    run is long enough; ``sepsim/platform/_engine/batches.py``), in alternating pairs, each call timed whole (the
    workers' start included; a warm-up call of each way on two batches compiles first);
    the median of each, and whether the two give identical Datasets."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from sepsim._keys import stage_key
    from sepsim.platform import run_trials
    from sepsim.platform._engine.batches import available_cores
    from sepsim.platform._engine.run import default_chunk

    pairs = pairs or (2 if quick else 3)
    out: dict = dict(cores=available_cores(), pairs=pairs)
    sizes = (
        (("adaptr quadrature", 40_000 if quick else 200_000), ("immunosep quadrature", 20_000 if quick else 100_000))
        if trials is None
        else (("adaptr quadrature", trials), ("immunosep quadrature", trials // 2))
    )
    for name, n in sizes:
        design, table = _engine_case(name, table_path)
        key = stage_key(3, "bench")
        chunk = default_chunk(design, n)
        for procs in (1, "auto"):  # compile both ways (jit's call; the ahead-of-time executable workers get)
            run_trials(table, design, n_trials=2 * chunk, key=key, chunk_size=chunk, progress=False, processes=procs)
        times: dict[str, list[float]] = {"1": [], "auto": []}
        results = {}
        for r in range(pairs):
            for label in ("1", "auto") if r % 2 == 0 else ("auto", "1"):
                procs = 1 if label == "1" else "auto"
                t0 = time.perf_counter()
                results[label] = run_trials(
                    table, design, n_trials=n, key=key, chunk_size=chunk, progress=False, processes=procs
                )
                times[label].append(time.perf_counter() - t0)
        identical = results["1"].identical(results["auto"])
        out[name] = dict(
            trials=n,
            identical=bool(identical),
            seconds=times,
            **{f"trials_per_s_{k}": n / float(np.median(v)) for k, v in times.items()},
        )
    return out


def _print_processes(res: dict) -> None:
    print(
        f"run_trials, float64, this process alone against worker processes ({res['cores']} cores), "
        f"{res['pairs']} alternating pairs (median, whole calls):"
    )
    for name in ("adaptr quadrature", "immunosep quadrature"):
        r = res[name]
        print(
            f"  {name:22s} {r['trials']:7d} trials: processes=1 {r['trials_per_s_1']:8.0f} trials/s, "
            f"processes='auto' {r['trials_per_s_auto']:8.0f} trials/s "
            f"({r['trials_per_s_auto'] / r['trials_per_s_1']:.2f}x), identical {r['identical']}"
        )


def _print_emitters(res: dict) -> None:
    print(f"engine options {res['options']} against XLA's defaults, {res['trials']} trials in default batches, ")
    print(f"{res['pairs']} alternating pairs (median), {res['devices']} device(s):")
    for name in ("adaptr quadrature", "immunosep quadrature"):
        r = res[name]
        print(
            f"  {name:22s} batch {r['batch']}: engine {r['engine_trials_per_s']:7.0f} trials/s "
            f"{r['engine_cpu_us_per_trial']:6.1f} us CPU | XLA defaults {r['xla_default_trials_per_s']:7.0f} trials/s "
            f"{r['xla_default_cpu_us_per_trial']:6.1f} us CPU | ratio "
            f"{r['engine_trials_per_s'] / r['xla_default_trials_per_s']:.2f} (CPU "
            f"{r['xla_default_cpu_us_per_trial'] / r['engine_cpu_us_per_trial']:.2f}) | identical {r['identical']}"
        )


def _print_batches(res: dict) -> None:
    print(f"adaptr design, one compiled batch, best of 4 ({res['devices']} device(s)):")
    print("batch        " + "".join(f"{b:>7d}" for b in res["sweep"]))
    print("trials/s     " + "".join(f"{r['trials_per_s']:7.0f}" for r in res["sweep"].values()))
    print("CPU us/trial " + "".join(f"{r['cpu_us_per_trial']:7.0f}" for r in res["sweep"].values()))
    print(f"run_trials on {res['trials']} trials, default batch vs 2000, {res['pairs']} alternating pairs (median):")
    for name, r in res["run_trials"].items():
        print(
            f"  {name:22s} default ({r['default_batch']}): {r['default_trials_per_s']:7.0f} trials/s "
            f"{r['default_cpu_us_per_trial']:6.1f} us CPU | 2000: {r['2000_trials_per_s']:7.0f} trials/s "
            f"{r['2000_cpu_us_per_trial']:6.1f} us CPU | ratio {r['default_trials_per_s'] / r['2000_trials_per_s']:.2f}"
        )


def _best_of(first: dict, second: dict) -> dict:
    """Two workers' results of one tree: per row the higher rate and the lower CPU time, the larger peak memory."""
    rows = {}
    for name, a in first["rows"].items():
        b = second["rows"][name]
        rows[name] = dict(
            a,
            wall_s=min(a["wall_s"], b["wall_s"]),
            trials_per_s=max(a["trials_per_s"], b["trials_per_s"]),
            cpu_ms_per_trial=min(a["cpu_ms_per_trial"], b["cpu_ms_per_trial"]),
            workers=[a["trials_per_s"], b["trials_per_s"]],
        )
    return dict(first, rows=rows, peak_host_mib=max(first["peak_host_mib"], second["peak_host_mib"]))


def _profile() -> dict:
    """Cost of the parts of one adaptr look on 2000 trials (float64): microseconds per trial-look and XLA FLOPs."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from sepsim.platform import binary_scenario, design_from_dict
    from sepsim.platform._allocation.base import AllocationInputs
    from sepsim.platform._allocation.factory import make_allocation_rule
    from sepsim.platform._analysis.factory import make_analysis
    from sepsim.platform._decisions.decide import decide_unit
    from sepsim.platform._decisions.thresholds import design_thresholds
    from sepsim.platform._design.plan import make_plan
    from sepsim.platform.stats._posterior_binary import beta_grid

    design = design_from_dict(_design("quadrature"))
    out = binary_scenario([0.25, 0.25, 0.25], 1000, key=jax.random.key(0))
    plan = make_plan(design, out)
    an = make_analysis(design, plan, out)
    rule = make_allocation_rule(design.allocation, 3)
    thr = {k: jnp.asarray(v) for k, v in design_thresholds(design).items()}
    rng = np.random.default_rng(0)
    t_n = 2000
    n = jnp.asarray(rng.integers(100, 700, (t_n, 3)).astype(float))
    ev = jnp.asarray(np.floor(np.asarray(n) * rng.uniform(0.2, 0.3, (t_n, 3))))
    act = jnp.ones((t_n, 3), bool)
    key = jax.random.key(1)
    from sepsim.platform._engine.carry import init_units

    units = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x[0], (t_n, *x.shape[1:])), init_units(1, 3, -1, 18))

    def ctx_of(n, ev, a):
        return an.prepare(n, ev, a, key=key)

    parts = {
        "beta grid (log/exp densities, CDF matmul)": lambda n, ev, a: beta_grid(
            1 + ev, 1 + n - ev, a, n_grid=an.n_grid
        ),
        "P(best) from the grid": lambda n, ev, a: an.p_best(ctx_of(n, ev, a), a),
        "P(all equivalent) from the grid": lambda n, ev, a: an.p_all_equivalent(ctx_of(n, ev, a), a),
        "decisions (drop loop, superiority, equivalence)": lambda n, ev, a: decide_unit(
            plan, an, ctx_of(n, ev, a), a, jax.tree_util.tree_map(lambda x: x[0], units), jnp.int32(3), thr
        ),
        "allocation (thompson, adaptr limits)": lambda n, ev, a: rule(
            AllocationInputs(n / n.sum(), n / n.sum(), a, jnp.asarray(-1), n, jnp.asarray(0.5))
        ),
    }
    res = {}
    for name, f in parts.items():
        fn = jax.jit(jax.vmap(f))
        comp = fn.lower(n, ev, act).compile()
        cost = comp.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        jax.block_until_ready(fn(n, ev, act))
        best = min(_timed(fn, n, ev, act) for _ in range(5))
        res[name] = dict(us_per_trial_look=1e6 * best / t_n, flops_per_trial_look=float(cost.get("flops", -1)) / t_n)
    return res


def _timed(fn, *a) -> float:
    import jax

    t0 = time.process_time()
    jax.block_until_ready(fn(*a))
    return time.process_time() - t0


def _machine() -> dict:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln), "?")
    except OSError:
        model = platform.processor() or "?"
    from importlib.metadata import version

    vers = {}
    for pkg in ("jax", "jaxlib", "numpyro", "diffrax", "equinox", "numpy"):
        try:
            vers[pkg] = version(pkg)
        except Exception:
            vers[pkg] = "?"
    return dict(cpu=model, cores=os.cpu_count(), python=sys.version.split()[0], **vers)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute on 2 cores)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--dtype", default="both", choices=("float64", "float32", "both"))
    ap.add_argument("--baseline-src", metavar="DIR", help="a sepsim source tree timed as the baseline")
    ap.add_argument("--profile", action="store_true", help="also time the parts of one adaptr look")
    ap.add_argument("--draws", action="store_true", help="also time adaptr's 5000-draw method (slow)")
    ap.add_argument("--n-patients", type=int, default=1200, help="virtual patients of the immunosep table")
    ap.add_argument(
        "--batches",
        action="store_true",
        help="only the batch-size sweep and the in-process run_trials A/B of the default batch against 2000",
    )
    ap.add_argument(
        "--emitters",
        action="store_true",
        help="only the in-process A/B of the engine's XLA options (elemental IR emitters) against XLA's defaults",
    )
    ap.add_argument(
        "--cores",
        action="store_true",
        help="only: one core, both cores through XLA's threads, two host devices, two single-core processes",
    )
    ap.add_argument(
        "--processes",
        action="store_true",
        help="only the in-process A/B of run_trials alone against worker processes (processes='auto')",
    )
    ap.add_argument("--trials", type=int, help="--processes: adaptr trials (immunosep: half), instead of 200,000")
    ap.add_argument("--pairs", type=int, help="--processes: alternating pairs, instead of 3")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--core-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return {}
    if args.core_worker:
        _core_worker(args)
        return {}
    if args.cores:
        res = cores(args.quick) | dict(machine=_machine())
        _print_cores(res)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return res
    table = build_immunosep_table(TABLE.with_name(f"immunosep_table_{args.n_patients}.nc"), args.n_patients)
    if args.batches or args.emitters or args.processes:
        run, show = (
            (emitters, _print_emitters)
            if args.emitters
            else (processes_ab, _print_processes)
            if args.processes
            else (batch_sizes, _print_batches)
        )
        extra = dict(trials=args.trials, pairs=args.pairs) if args.processes else {}
        res = run(str(table), args.quick, **extra) | dict(machine=_machine())
        show(res)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return res
    load_start = os.getloadavg()[0]
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]
    runs = {}
    for dt in dtypes:
        if not args.baseline_src:
            runs[f"sepsim {dt}"] = _run_worker(dt, args.quick, args.draws, table, None)
            continue
        # two workers per tree in the order A B B A: on a VM the second worker of a run can be slower on identical
        # code (bench_trials.md, 2026-12-07 19:49 UTC), so each tree gets a first and a later slot and each row
        # keeps the better of its two workers
        order = [(None, "sepsim"), (args.baseline_src, "baseline")]
        done: dict[str, list[dict]] = {"sepsim": [], "baseline": []}
        for src, label in order + order[::-1]:
            done[label].append(_run_worker(dt, args.quick, args.draws, table, src))
        for label in ("sepsim", "baseline"):
            runs[f"{label} {dt}"] = _best_of(*done[label])
    numpy_row = _time_numpy(5 if args.quick else 40)
    head = f"{'engine':18s} {'row':30s} {'trials':>7s} {'trials/s':>10s} {'CPU ms/trial':>13s} {'compile s':>10s}"
    print(head + f" {'P(sup)':>7s} {'of':>6s} {'peak MiB':>9s}")
    for run, r in runs.items():
        for name, row in r["rows"].items():
            print(
                f"{run:18s} {name:30s} {row['trials']:7d} {row['trials_per_s']:10.1f} {row['cpu_ms_per_trial']:13.3f} "
                f"{row['compile_s']:10.1f} {row['p_superiority']:7.4f} {row['p_superiority_trials']:6d} "
                f"{r['peak_host_mib']:9.0f}"
            )
    print(
        f"{'numpy':18s} {'adaptr (5000 draws)':30s} {numpy_row['trials']:7d} {numpy_row['trials_per_s']:10.1f} "
        f"{numpy_row['cpu_ms_per_trial']:13.3f}"
    )
    result = dict(quick=args.quick, runs=runs, numpy=numpy_row, table=str(table))
    if args.profile:
        result["profile_float64"] = _profile()
        print("one adaptr look on 2000 trials, float64 (CPU time):")
        for name, r in result["profile_float64"].items():
            print(f"  {name:50s} {r['us_per_trial_look']:8.2f} us/trial-look {r['flops_per_trial_look']:10.0f} FLOP")
    result["machine"] = dict(
        _machine(),
        load_avg_1min_start=load_start,
        load_avg_1min_end=os.getloadavg()[0],
        date_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    print(json.dumps(result["machine"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
