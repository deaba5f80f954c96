"""Benchmark: 28-day patient courses per second, jitted+vmapped diffrax vs a per-patient scipy loop.

JAX: ``make_batch_solver(Placebo())`` (Tsit5, rtol 1e-6, atol 1e-8) over N patients in chunks of 1,000 (the
measured optimum: one batch of 10^5 runs ~2x slower per patient because the lock-stepped while loop waits for
its slowest patient) sharded over the local CPU cores (``--xla_force_host_platform_device_count``), compiled
first, ``min`` of repeats around ``block_until_ready``. Baseline: scipy ``solve_ivp`` (LSODA, same tolerances)
with the NumPy right-hand side (``sepsim.models._reference``), looped over patients; with ``--quick`` (or for
N > 50) it runs on at most 50 patients and is extrapolated per patient.

Usage: ``python benchmarks/bench_patient.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "--one-device" not in __import__("sys").argv:
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={os.cpu_count()}")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import numpy as np  # noqa: E402

from sepsim._keys import stage_key  # noqa: E402
from sepsim.models import Placebo, SolverConfig, make_batch_solver, simulate_cohort  # noqa: E402
from sepsim.models._outcomes import _chunk_inputs  # noqa: E402
from sepsim.models._params import params_from_mapping  # noqa: E402
from sepsim.models._reference import reference_solve  # noqa: E402
from sepsim.models._solve import shard_patients  # noqa: E402

DAYS = 28
CHUNK = 1000
CONFIG = SolverConfig(rtol=1e-6, atol=1e-8)


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:  # noqa: BLE001
        return platform.processor() or "unknown"


def time_jax(n: int, repeats: int) -> float:
    cohort = simulate_cohort(n, key=stage_key(0, "bench"))
    chunk = min(n, CHUNK)
    chunks = [shard_patients(_chunk_inputs(cohort, slice(s, s + chunk), chunk, DAYS)) for s in range(0, n, chunk)]
    solve = make_batch_solver(Placebo(), CONFIG)
    jax.block_until_ready(solve(*chunks[0]))  # compile
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = [solve(*c) for c in chunks]
        jax.block_until_ready(outs)
        best = min(best, time.perf_counter() - t0)
    assert all(bool(o.ok.all()) for o in outs), "solver failure in benchmark cohort"
    steps = np.concatenate([np.asarray(o.steps) for o in outs])
    rejected = np.concatenate([np.asarray(o.rejected) for o in outs])
    print(f"# n={n}: accepted steps mean {steps.mean():.0f} max {steps.max()}, rejected mean {rejected.mean():.0f}")
    return best


def time_scipy(n: int) -> float:
    cohort = simulate_cohort(n, key=stage_key(0, "bench"))
    t_eval = 24.0 * np.arange(DAYS + 1.0)
    t0 = time.perf_counter()
    for i in range(n):
        row = {k: float(cohort[k].values[i]) for k in cohort.data_vars if cohort[k].dims == ("patient",)}
        reference_solve(params_from_mapping(row), t_eval, method="LSODA", rtol=CONFIG.rtol, atol=CONFIG.atol)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^2..10^3 patients, scipy on <= 50 patients")
    ap.add_argument("--json", default=None, help="write figures as JSON to this path")
    ap.add_argument("--one-device", action="store_true", help="do not split the CPU into one XLA device per core")
    args = ap.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, 10_000, 100_000]
    print(f"# load average before: {os.getloadavg()[0]:.2f}")
    n_scipy = 20 if args.quick else 50
    scipy_per_patient = time_scipy(n_scipy)
    rows = []
    for n in sizes:
        t = time_jax(n, repeats=3 if n <= 1000 else 1)
        rows.append(
            {
                "n_patients": n,
                "jax_seconds": t,
                "jax_courses_per_s": n / t,
                "scipy_courses_per_s": 1.0 / scipy_per_patient,
                "speedup": (n / t) * scipy_per_patient,
            }
        )
    meta = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "diffrax": diffrax.__version__,
        "solver": f"Tsit5 rtol={CONFIG.rtol} atol={CONFIG.atol}, float64, chunks of {CHUNK}",
        "xla_devices": len(jax.devices()),
        "scipy_baseline": f"solve_ivp LSODA, NumPy RHS, {n_scipy} patients, extrapolated per patient",
    }
    print(
        f"# bench_patient: {DAYS}-day patient courses per second ({meta['cpu']}, {meta['cores']} cores, "
        f"{meta['xla_devices']} XLA CPU devices)"
    )
    print(f"# jax {meta['jax']}, diffrax {meta['diffrax']}; {meta['solver']}; baseline {meta['scipy_baseline']}")
    print("| patients | JAX s | JAX courses/s | scipy courses/s | speed-up |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_patients']} | {r['jax_seconds']:.2f} | {r['jax_courses_per_s']:.0f} | "
            f"{r['scipy_courses_per_s']:.1f} | {r['speedup']:.0f}x |"
        )
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
