"""Throughput at scale: patient courses against N (two arms) and the end-to-end ``immunosep`` study.

Parts (``--part``, default both):

- ``patients``: 28-day courses per second of ``make_batch_solver`` (the default solver, float64) for N = 10^2 ..
  10^5 patients (``--quick``: 10^2, 10^3), for placebo and for a therapy plus an adsorber (anakinra with CytoSorb,
  ``arm_from_config({"therapy": "anakinra", "adsorber": "cytosorb"})``), each (arm, N) in a fresh worker process so
  its peak resident memory (``ru_maxrss``) is that run's own; calls of up to 10,000 patients, sharded over the
  local devices (one XLA CPU device per core here, as ``bench_patient.py``); compile first, best of repeats.
- ``study``: the ``immunosep`` experiment end to end on a fresh cohort: virtual cohort and potential outcomes of
  every patient under the three arms (``sepsim.pipeline``'s own stage functions), screening, then ``run_trials``
  (the design's 280-patient trials) on that table; wall and CPU seconds of each stage, compile included (a study
  is run once). The issue's size (10^6 patients, 10^4 trials) does not fit a few minutes on 2 CPU cores, so the
  script measures ``--study-patients`` x ``--study-trials`` and extrapolates linearly in patients (the ODE stage)
  and in trials (the trial stage), marking those figures ``extrapolated``.

Trials per second of the immunosep *design* alone are ``bench_trials.py``'s ``immunosep quadrature`` row.

Usage: ``python benchmarks/bench_scale.py [--quick] [--json PATH] [--part patients|study|both]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = 28
CHUNK = 10_000
ARMS = {"placebo": "placebo", "anakinra+cytosorb": {"therapy": "anakinra", "adsorber": "cytosorb"}}
TARGET_PATIENTS, TARGET_TRIALS = 1_000_000, 10_000  # the end-to-end study


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def courses(arm_name: str, n: int, repeats: int, *, chunk_size: int = CHUNK, cost: bool = False) -> dict:
    """Courses per second of ``n`` patients under arm ``arm_name`` (this process; JAX already configured), in
    calls of ``chunk_size`` patients; ``cost`` adds XLA's FLOP and byte counts of one compiled call."""
    import jax
    import numpy as np

    from sepsim._keys import stage_key
    from sepsim.models import CohortConfig, SolverConfig, make_batch_solver, simulate_cohort
    from sepsim.models._outcomes import _chunk_inputs
    from sepsim.models._solve import shard_patients
    from sepsim.models.interventions import arm_from_config

    config = SolverConfig(rtol=1e-6, atol=1e-8)
    cohort = simulate_cohort(n, key=stage_key(0, "bench"), config=CohortConfig(source="prior"))  # as every table
    chunk = min(n, chunk_size)
    chunks = [shard_patients(_chunk_inputs(cohort, slice(s, s + chunk), chunk, DAYS)) for s in range(0, n, chunk)]
    solve = make_batch_solver(arm_from_config(ARMS[arm_name]), config)
    t0 = time.perf_counter()
    jax.block_until_ready(solve(*chunks[0]))
    compile_s = time.perf_counter() - t0
    best, cpu, outs = np.inf, np.inf, []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        outs = jax.block_until_ready([solve(*c) for c in chunks])
        if time.perf_counter() - w0 < best:
            best, cpu = time.perf_counter() - w0, time.process_time() - c0
    ok = all(bool(np.asarray(o.ok).all()) for o in outs)
    steps = float(np.mean(np.concatenate([np.asarray(o.steps).ravel() for o in outs])))
    rejected = float(np.mean(np.concatenate([np.asarray(o.rejected).ravel() for o in outs])))
    xla = xla_cost(jax.jit(lambda *c: solve(*c)), *chunks[0]) if cost else {}
    return dict(
        xla_flops_per_call=xla.get("flops"),
        xla_bytes_per_call=xla.get("bytes accessed"),
        chunk_size=chunk,
        arm=arm_name,
        n_patients=n,
        wall_s=best,
        cpu_s=cpu,
        courses_per_s=n / best,
        cpu_ms_per_course=1e3 * cpu / n,
        compile_s=compile_s,
        steps_mean=steps,
        rejected_mean=rejected,
        all_solved=ok,
        peak_host_mib=_peak_mib(),
    )


def xla_cost(fn, *args) -> dict:
    """XLA's cost analysis of ``fn`` compiled for ``args`` (``flops``, ``bytes accessed``; a loop body counts once)."""
    try:
        cost = fn.lower(*args).compile().cost_analysis()
    except Exception:  # noqa: BLE001 (a backend without cost analysis)
        return {}
    cost = cost[0] if isinstance(cost, list) else cost
    return {k: float(cost[k]) for k in ("flops", "bytes accessed") if k in (cost or {})}


def _immunosep_cfg(n_patients: int, n_trials: int, chunk_size: int | None = None, daily_states: str = "all"):
    from sepsim.cli import compose_config
    from sepsim.config import validate

    over = ["experiment=immunosep", "runtime.cache=false", f"population.n_patients={n_patients}"]
    over += [f"n_trials={n_trials}"] + ([f"runtime.chunk_size={chunk_size}"] if chunk_size else [])
    # the benchmark runs the trials, not the study's own read-outs (which need some daily states)
    over += [f"population.daily_states={daily_states}", "~study"]
    return validate(compose_config(over))


def study(
    n_patients: int,
    n_trials: int,
    *,
    chunk_size: int | None = None,
    trial_chunk: int | None = None,
    daily_states: str = "all",
) -> dict:
    """The immunosep study end to end (cohort, potential outcomes, screening, trials), timed stage by stage;
    ``chunk_size`` patients per ODE batch (``runtime.chunk_size``), ``trial_chunk`` trials per batch,
    ``daily_states`` the outcome table's daily states (``population.daily_states``: ``all`` or e.g. ``[]``)."""
    import jax
    from omegaconf import OmegaConf

    from sepsim._keys import stage_key
    from sepsim.pipeline import _eligible, _outcomes_from_models, _solved
    from sepsim.platform import design_from_dict, from_dataset, run_trials

    cfg = _immunosep_cfg(n_patients, n_trials, chunk_size, daily_states)
    design = design_from_dict(OmegaConf.to_container(cfg.design, resolve=True))
    stages = {}
    w0, c0 = time.perf_counter(), time.process_time()
    table, _ = _outcomes_from_models(cfg)
    table = table.load()
    stages["cohort_and_outcomes"] = (time.perf_counter() - w0, time.process_time() - c0)
    w0, c0 = time.perf_counter(), time.process_time()
    table, n_failed = _solved(table)
    table = _eligible(table, design, cfg.endpoint.stratum)
    out = from_dataset(table, endpoint=cfg.endpoint.variable, stratum=cfg.endpoint.stratum, strata=design.strata)
    stages["screening"] = (time.perf_counter() - w0, time.process_time() - c0)
    w0, c0 = time.perf_counter(), time.process_time()
    key = stage_key(int(cfg.seed), "trials")
    ds = run_trials(out, design, n_trials=n_trials, key=key, chunk_size=trial_chunk, progress=False)
    jax.block_until_ready(ds["trial_outcome"].values)
    stages["trials"] = (time.perf_counter() - w0, time.process_time() - c0)
    total_wall = sum(w for w, _ in stages.values())
    per_patient = stages["cohort_and_outcomes"][0] / n_patients
    per_trial = stages["trials"][0] / n_trials
    return dict(
        n_patients=n_patients,
        daily_states=daily_states,
        table_mib_per_1000_patients=table.nbytes / 2**20 / table.sizes["patient"] * 1000,
        n_eligible=int(table.sizes["patient"]),
        solver_failures=n_failed,
        n_trials=n_trials,
        stages={k: dict(wall_s=w, cpu_s=c) for k, (w, c) in stages.items()},
        total_wall_s=total_wall,
        peak_host_mib=_peak_mib(),
        extrapolated=dict(
            n_patients=TARGET_PATIENTS,
            n_trials=TARGET_TRIALS,
            cohort_and_outcomes_s=per_patient * TARGET_PATIENTS,
            trials_s=per_trial * TARGET_TRIALS,
            total_s=per_patient * TARGET_PATIENTS + per_trial * TARGET_TRIALS,
            how="linear in patients (ODE stage, compile included) and in trials (trial stage) from this run",
        ),
    )


def _worker(args) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    if args.worker == "patients":
        res = courses(args.arm, args.n, args.repeats)
    else:
        res = study(args.n, args.trials, daily_states=args.daily_states)
    print(json.dumps(res))


def _run_worker(*extra: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    env.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={os.cpu_count()}")
    out = subprocess.run([sys.executable, __file__, *extra], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"worker {extra} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    """CPU, versions and the time: the header of every table."""
    import platform
    from importlib.metadata import version

    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln), "?")
    except OSError:
        cpu = platform.processor() or "?"
    vers = {}
    for pkg in ("jax", "jaxlib", "numpyro", "diffrax", "equinox", "numpy"):
        try:
            vers[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            vers[pkg] = "?"
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), **vers)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few minutes on 2 shared cores)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--part", default="both", choices=("patients", "study", "both"))
    ap.add_argument("--max-n", type=int, default=100_000, help="largest N of the patients part (placebo)")
    ap.add_argument("--max-n-therapy", type=int, default=100_000, help="largest N for anakinra + CytoSorb")
    ap.add_argument("--study-patients", type=int, default=2000)
    ap.add_argument("--study-trials", type=int, default=2000)
    ap.add_argument(
        "--daily-states",
        default="all",
        help="the study's population.daily_states: all (default), or a list such as [] or [hla_dr,ferritin]",
    )
    ap.add_argument("--worker", choices=("patients", "study"), help=argparse.SUPPRESS)
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--trials", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return {}
    result: dict = dict(quick=args.quick, machine=machine(), load_avg_1min_start=os.getloadavg()[0])
    if args.part in ("patients", "both"):
        sizes = [100, 1000] if args.quick else [n for n in (100, 1000, 10_000, 100_000) if n <= args.max_n]
        rows = []
        for arm in ARMS:
            for n in [n for n in sizes if arm == "placebo" or n <= args.max_n_therapy]:
                reps = 3 if n <= 1000 else 2 if n <= 10_000 else 1
                rows.append(_run_worker("--worker", "patients", "--arm", arm, "--n", str(n), "--repeats", str(reps)))
                r = rows[-1]
                print(
                    f"{arm:18s} N={n:7d} {r['courses_per_s']:9.0f} courses/s"
                    f"  CPU {r['cpu_ms_per_course']:.3f} ms/course"
                    f"  wall {r['wall_s']:.2f} s  compile {r['compile_s']:.1f} s  steps {r['steps_mean']:.0f}"
                    f"  peak {r['peak_host_mib']:.0f} MiB  solved {r['all_solved']}",
                    flush=True,
                )
        result["patients"] = rows
    if args.part in ("study", "both"):
        n_p, n_t = (800, 200) if args.quick else (args.study_patients, args.study_trials)
        r = _run_worker("--worker", "study", "--n", str(n_p), "--trials", str(n_t), "--daily-states", args.daily_states)
        result["study"] = r
        for k, v in r["stages"].items():
            print(f"immunosep study {k:22s} wall {v['wall_s']:8.1f} s  CPU {v['cpu_s']:8.1f} s", flush=True)
        x = r["extrapolated"]
        print(
            f"immunosep study: {n_p} patients ({r['n_eligible']} eligible), {n_t} trials: "
            f"{r['total_wall_s']:.1f} s wall, peak {r['peak_host_mib']:.0f} MiB (daily states {r['daily_states']}: "
            f"{r['table_mib_per_1000_patients']:.1f} MiB per 1000 eligible patients); extrapolated to "
            f"{x['n_patients']} patients and {x['n_trials']} trials: "
            f"{x['total_s']:.0f} s ({x['cohort_and_outcomes_s']:.0f} s patients + {x['trials_s']:.0f} s trials)",
            flush=True,
        )
    result["load_avg_1min_end"] = os.getloadavg()[0]
    result["date_utc"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        json.dumps(result["machine"]), f"load {result['load_avg_1min_start']:.1f} -> {result['load_avg_1min_end']:.1f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
