"""Trials per second of the adaptr design (trial_oracles.md) with sepsim's engine and with a NumPy port of adaptr.

Design: 3 arms, event rates 0.25 (null), RAR proportional to P(best) with minimum 0.2, analyses at 300..2000
patients with outcomes (400..2000 randomised), superiority 0.9814318 / inferiority 0.0185682, equivalence
P(all within 0.05) > 0.9. Rows:

- ``sepsim quadrature``: the engine as used (P(best) by quadrature, 97 nodes).
- ``sepsim quadrature (65 nodes)``: fewer nodes; max |error| 6.9e-4 in P(best) and 3.0e-4 in P(all equivalent)
  against a 1025-node reference over 4000 random adaptr-like posteriors (97 nodes: 1.4e-4 and 6.1e-5), still
  about 3 times below the Monte-Carlo SD of adaptr's 5000 draws near its thresholds (0.002).
- ``sepsim draws``: the engine with adaptr's probability computation (5000 Beta draws per arm per look).
- ``numpy adaptr``: a plain NumPy port of adaptr's ``run_trial`` loop (5000 draws per arm per look), one trial at a
  time, the baseline (published: 1000 trials in 33.1 s on 2 R workers, about 30 trials/s).

Timing: compile first, then the minimum over repeats of wall time around ``block_until_ready``; CPU time of this
process is reported too (other processes on a shared machine inflate wall time, not CPU time).

Usage: ``python benchmarks/bench_trials.py [--quick] [--json PATH] [--x64]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

S = 0.9814318
LOOKS = list(range(300, 2001, 100))
RANDOMISED = list(range(400, 2001, 100)) + [2000]


def _design(method: str, n_grid: int = 97) -> dict:
    return dict(
        arms=["A", "B", "C"],
        look_n=LOOKS,
        higher_is_better=False,
        allocation=dict(rule="thompson", min_prob=0.2),
        stopping=dict(superiority=S, inferiority=1 - S, equivalence_prob=0.9, equivalence_margin=0.05),
        enrolment=dict(randomised_n=RANDOMISED),
        analysis=dict(method=method, n_draws=5000, n_grid=n_grid),
    )


def _time_engine(method: str, batch: int, repeats: int, n_grid: int = 97) -> dict:
    import jax

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform import binary_scenario, design_from_dict
    from sepsim.platform._engine.run import make_trial_function

    out = binary_scenario([0.25, 0.25, 0.25], 50_000, key=stage_key(1, "cohort"))
    fn, _ = make_trial_function(design_from_dict(_design(method, n_grid)), out)
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
    p_sup = float(np.mean(np.concatenate(sup)))  # the same trial keys for every row and dtype
    return dict(
        trials=batch,
        wall_s=min(walls),
        trials_per_s=batch / min(walls),
        cpu_ms_per_trial=1e3 * min(cpus) / batch,
        compile_s=compile_s,
        p_superiority=p_sup,
        p_superiority_trials=batch * (repeats + 1),
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


def _machine() -> dict:
    try:
        model = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in model.splitlines() if "Model name" in ln), "?")
    except OSError:
        model = platform.processor() or "?"
    import jax

    return dict(
        cpu=model,
        cores=os.cpu_count(),
        python=sys.version.split()[0],
        jax=jax.__version__,
        numpy=np.__version__,
        load_avg_1min=os.getloadavg()[0],
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (< 1 minute on 2 cores)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--x64", action="store_true", help="float64 engine (default float32)")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", bool(args.x64))
    if args.quick:
        sizes = dict(quad=(500, 2), draws=(50, 1), numpy=5)
    else:
        sizes = dict(quad=(2000, 5), draws=(200, 2), numpy=40)
    load_start = os.getloadavg()[0]
    rows = {
        "sepsim quadrature": _time_engine("quadrature", *sizes["quad"]),
        "sepsim quadrature (65 nodes)": _time_engine("quadrature", *sizes["quad"], n_grid=65),
        "sepsim draws (5000)": _time_engine("draws", *sizes["draws"]),
        "numpy adaptr (5000 draws)": _time_numpy(sizes["numpy"]),
    }
    base = rows["numpy adaptr (5000 draws)"]["trials_per_s"]
    for r in rows.values():
        r["ratio_vs_numpy"] = r["trials_per_s"] / base
    dtype = "float64" if args.x64 else "float32"
    print(f"adaptr null design, engine dtype {dtype}; trials/s from the best of repeats (wall clock)")
    head = f"{'method':30s} {'trials':>7s} {'trials/s':>10s} {'CPU ms/trial':>13s} {'x numpy':>8s} {'compile s':>10s}"
    print(head + f" {'P(sup)':>7s} {'of':>6s}")
    for name, r in rows.items():
        print(
            f"{name:30s} {r['trials']:7d} {r['trials_per_s']:10.1f} {r['cpu_ms_per_trial']:13.3f} "
            f"{r['ratio_vs_numpy']:8.1f} {r['compile_s']:10.1f} "
            f"{r['p_superiority']:7.4f} {r['p_superiority_trials']:6d}"
        )
    machine = dict(_machine(), load_avg_1min_start=load_start)
    result = dict(design="adaptr null (trial_oracles.md)", dtype=dtype, quick=args.quick, rows=rows, machine=machine)
    print(json.dumps(result["machine"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
