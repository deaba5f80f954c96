"""Benchmark: 28-day patient courses per second, the batched JAX solver vs a per-patient scipy loop.

JAX: ``make_batch_solver(arm)`` with the default solver (lean batched Tsit5, rtol 1e-6, atol 1e-8,
``SolverConfig.lanes`` patients stepped side by side per device, lanes refilled from the batch) over N patients
in calls of up to 10,000 patients, sharded over the local CPU cores (``--xla_force_host_platform_device_count``,
set below before JAX is imported), compiled first,
``min`` of repeats around ``block_until_ready``; the CPU seconds of the process are reported too (2x the wall time
when both cores are busy). The previous default, ``diffrax.diffeqsolve`` Tsit5 under ``vmap`` (same tableau,
controller and tolerances), is timed on 1,000 patients for reference (not with ``--quick``). Baseline: scipy
``solve_ivp`` (LSODA, the fastest scipy method on this problem, same rtol/atol) with the NumPy right-hand side
(``sepsim.models._reference``), looped over patients in the same run; it runs on 50 patients (20 with
``--quick``) and is reported per patient.

Arms: placebo (10^2..10^5) and anakinra + CytoSorb sessions (10^2..10^4). Each (source tree, arm) is timed in its
own worker process; ``--baseline-src DIR`` times the same rows with another source tree (e.g. ``git archive
0e1bbdb``) in the same run, so a change is measured side by side with its baseline.

Usage: ``python benchmarks/bench_patient.py [--quick] [--json PATH] [--baseline-src DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "--one-device" not in sys.argv:
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={os.cpu_count()}")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from sepsim._keys import stage_key  # noqa: E402
from sepsim.models import CohortConfig, Placebo, SolverConfig, make_batch_solver, simulate_cohort  # noqa: E402
from sepsim.models._outcomes import _chunk_inputs  # noqa: E402
from sepsim.models._params import params_from_mapping  # noqa: E402
from sepsim.models._patient_rhs import T_START, initial_state, to_physical  # noqa: E402
from sepsim.models._reference import numpy_params, numpy_rhs  # noqa: E402
from sepsim.models._solve import shard_patients  # noqa: E402

DAYS = 28
CHUNK = 10_000  # patients per call (inside a call: groups of CONFIG.lanes per device)
CONFIG = SolverConfig(rtol=1e-6, atol=1e-8)
DIFFRAX = CONFIG._replace(solver="diffrax_tsit5")


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:  # noqa: BLE001
        return platform.processor() or "unknown"


def _arm(name: str):
    if name == "placebo":
        return Placebo()
    from sepsim.models.interventions import Anakinra, Combination, CytoSorb

    return Combination(therapies=(Anakinra(),), device=CytoSorb(mode="sessions", qb_ml_min=250.0))


def time_jax(n: int, repeats: int, config: SolverConfig = CONFIG, arm: str = "placebo") -> dict:
    """Best wall time of ``repeats`` (after a compile call), the CPU seconds of that repeat, step statistics."""
    cohort = simulate_cohort(n, key=stage_key(0, "bench"), config=CohortConfig(source="prior"))  # as every table
    chunk = min(n, CHUNK)
    chunks = [shard_patients(_chunk_inputs(cohort, slice(s, s + chunk), chunk, DAYS)) for s in range(0, n, chunk)]
    solve = make_batch_solver(_arm(arm), config)
    t0 = time.perf_counter()
    jax.block_until_ready(solve(*chunks[0]))  # compile
    compile_s = time.perf_counter() - t0
    best, cpu = np.inf, np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        outs = [solve(*c) for c in chunks]
        jax.block_until_ready(outs)
        if time.perf_counter() - t0 < best:
            best, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(bool(o.ok.all()) for o in outs), "solver failure in benchmark cohort"
    steps = np.concatenate([np.asarray(o.steps) for o in outs])
    rejected = np.concatenate([np.asarray(o.rejected) for o in outs])
    print(
        f"# n={n} {arm} {config.solver}: accepted steps mean {steps.mean():.0f} max {steps.max()}, rejected mean "
        f"{rejected.mean():.0f}; first call {compile_s:.1f} s; best of {repeats}: {best:.2f} s wall, {cpu:.2f} s CPU"
    )
    return {"seconds": best, "cpu_seconds": cpu, "steps_mean": float(steps.mean()), "steps_max": int(steps.max())}


def time_scipy(n: int) -> tuple[float, float, float]:
    """Wall and CPU seconds per patient of the scipy loop, and its mean RHS evaluations per patient.

    Each patient is solved exactly as ``sepsim.models._reference.reference_solve`` does (LSODA, NumPy right-hand
    side in physical units, [T_START, 0] without and [0, 28 d] with hazards, saves at the daily points), with the
    benchmark's rtol/atol. Parameter conversion and the initial state are prepared before the clock starts, so
    the timed loop is ``solve_ivp`` only (no JAX dispatch in the baseline).
    """
    cohort = simulate_cohort(n, key=stage_key(0, "bench"), config=CohortConfig(source="prior"))  # as every table
    t_eval = 24.0 * np.arange(DAYS + 1.0)
    prepared = []
    for i in range(n):
        p = params_from_mapping(
            {k: float(cohort[k].values[i]) for k in cohort.data_vars if cohort[k].dims == ("patient",)}
        )
        prepared.append((numpy_params(p), np.asarray(to_physical(initial_state(p)), dtype=np.float64)))
    kw = dict(method="LSODA", rtol=CONFIG.rtol, atol=CONFIG.atol)
    nfev = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for p, x0 in prepared:
        a = solve_ivp(numpy_rhs, (T_START, 0.0), x0, args=(p, False), **kw)
        b = solve_ivp(numpy_rhs, (0.0, float(t_eval[-1])), a.y[:, -1], args=(p, True), t_eval=t_eval, **kw)
        assert a.success and b.success
        nfev += a.nfev + b.nfev
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n, nfev / n


def _row(n: int, label: str, arm: str, r: dict, scipy_per_patient: float, scipy_cpu_per_patient: float) -> dict:
    """One table row. ``speedup`` is the goal's figure (wall clock, JAX on all cores vs the one-core scipy loop);
    ``cpu_time_ratio`` compares CPU seconds per course (per core, insensitive to other jobs on a shared CPU)."""
    return {
        "n_patients": n,
        "solver": label,
        "arm": arm,
        "jax_seconds": r["seconds"],
        "jax_cpu_seconds": r["cpu_seconds"],
        "jax_courses_per_s": n / r["seconds"],
        "scipy_courses_per_s": 1.0 / scipy_per_patient,
        "speedup": (n / r["seconds"]) * scipy_per_patient,
        "cpu_time_ratio": scipy_cpu_per_patient / (r["cpu_seconds"] / n),
        "steps_mean": r["steps_mean"],
        "steps_max": r["steps_max"],
    }


def _repeats(n: int) -> int:
    return 10 if n <= 1000 else 3 if n <= 10_000 else 2


def _worker(args: argparse.Namespace) -> None:
    """Time the JAX rows of one (source tree, arm) in this process; print them as one JSON line."""
    config = DIFFRAX if args.solver == "diffrax_tsit5" else CONFIG
    out = {n: time_jax(n, _repeats(n), config, args.arm) for n in args.sizes}
    print("#ROWS " + json.dumps({"rows": out, "jax": jax.__version__}))


def _run_worker(src: str | None, arm: str, sizes: list[int], solver: str = "tsit5") -> dict:
    """Run :func:`_worker` in a fresh process, with ``src`` (a source tree, e.g. ``git archive`` of an older
    commit) first on ``PYTHONPATH``; its sepsim is timed by this script's code."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--arm", arm, "--solver", solver, "--sizes"]
    proc = subprocess.run(cmd + [str(n) for n in sizes], env=env, capture_output=True, text=True, check=False)
    lines = proc.stdout.splitlines()
    for line in lines:
        if line.startswith("# n="):
            print(f"{line} [{src or 'this tree'}]")
    rows = [line for line in lines if line.startswith("#ROWS ")]
    if proc.returncode or not rows:
        raise RuntimeError(f"worker failed ({src}, {arm}):\n{proc.stderr[-3000:]}")
    return {int(k): v for k, v in json.loads(rows[-1][6:])["rows"].items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^2..10^3 patients, scipy on 20, no diffrax row")
    ap.add_argument("--json", default=None, help="write figures as JSON to this path")
    ap.add_argument("--one-device", action="store_true", help="do not split the CPU into one XLA device per core")
    ap.add_argument(
        "--baseline-src", default=None, help="also time this source tree's solver (e.g. git archive of 0e1bbdb)"
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--arm", default="placebo", choices=("placebo", "anakinra_cytosorb"), help=argparse.SUPPRESS)
    ap.add_argument("--solver", default="tsit5", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args)
        return
    sizes = [100, 1000] if args.quick else [100, 1000, 10_000, 100_000]
    arm_sizes = {"placebo": sizes, "anakinra_cytosorb": sizes[:3]}
    load_before = os.getloadavg()
    print(f"# load average before: {load_before[0]:.2f}")
    n_scipy = 20 if args.quick else 50
    scipy_per_patient, scipy_cpu_per_patient, scipy_nfev = time_scipy(n_scipy)
    print(
        f"# scipy LSODA: {1 / scipy_per_patient:.1f} courses/s ({scipy_cpu_per_patient * 1e3:.1f} CPU ms per course), "
        f"{scipy_nfev:.0f} RHS evaluations per patient"
    )
    base = (scipy_per_patient, scipy_cpu_per_patient)
    rows = []
    for arm, ns in arm_sizes.items():
        trees = [("tsit5", None)] + ([("tsit5 (baseline)", args.baseline_src)] if args.baseline_src else [])
        for label, src in trees:
            rows += [_row(n, label, arm, r, *base) for n, r in _run_worker(src, arm, ns).items()]
    if not args.quick:
        rows += [
            _row(1000, "diffrax_tsit5", "placebo", _run_worker(None, "placebo", [1000], "diffrax_tsit5")[1000], *base)
        ]
    load_after = os.getloadavg()
    meta = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": importlib.metadata.version("jaxlib"),
        "numpyro": importlib.metadata.version("numpyro"),
        "diffrax": diffrax.__version__,
        "scipy": scipy.__version__,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "solver": f"Tsit5 rtol={CONFIG.rtol} atol={CONFIG.atol}, float64, {CONFIG.lanes} lanes, calls of <= {CHUNK}",
        "baseline_src": args.baseline_src,
        "xla_devices": len(jax.devices()),
        "scipy_baseline": f"solve_ivp LSODA rtol={CONFIG.rtol} atol={CONFIG.atol}, NumPy RHS, loop over {n_scipy} "
        "patients, per patient",
        "scipy_seconds_per_patient": scipy_per_patient,
        "scipy_cpu_seconds_per_patient": scipy_cpu_per_patient,
        "scipy_rhs_evaluations_per_patient": scipy_nfev,
        "load_average_before": load_before[0],
        "load_average_after": load_after[0],
        "quick": args.quick,
    }
    print(
        f"# bench_patient: {DAYS}-day patient courses per second ({meta['cpu']}, {meta['cores']} cores, "
        f"{meta['xla_devices']} XLA CPU devices), {meta['date_utc']} UTC; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after"
    )
    print(
        f"# python {meta['python']}, jax {meta['jax']}, jaxlib {meta['jaxlib']}, numpyro {meta['numpyro']}, "
        f"diffrax {meta['diffrax']}, scipy {meta['scipy']}; {meta['solver']}; baseline {meta['scipy_baseline']}"
    )
    print(
        "| patients | arm | solver | JAX s (wall) | CPU s | JAX courses/s | CPU us/course | scipy courses/s | "
        "speed-up | CPU-time ratio |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_patients']} | {r['arm']} | {r['solver']} | {r['jax_seconds']:.2f} | {r['jax_cpu_seconds']:.2f} | "
            f"{r['jax_courses_per_s']:.0f} | {r['jax_cpu_seconds'] / r['n_patients'] * 1e6:.0f} | "
            f"{r['scipy_courses_per_s']:.1f} | {r['speedup']:.0f}x | {r['cpu_time_ratio']:.0f}x |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
