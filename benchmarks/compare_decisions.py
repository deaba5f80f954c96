"""Per-trial decisions of this tree against a baseline source tree on the same trial keys (float64), or of this
tree in float32 against float64 (``--float32``).

For the adaptr design and the immunosep design (``bench_trials.py``'s rows, each tree with its own default
quadrature grid), runs ``--trials`` trials with the keys ``index_keys(stage_key(2, "bench"), i)`` in each tree (a
worker process per tree, ``PYTHONPATH`` set to it) and prints how many trials changed any arm decision, the unit
outcome or the stop look, P(superiority) in each, and the largest difference of P(best) at the first look (the
same data in both trees; later looks of response-adaptive trials can differ where an allocation probability
change of ~1e-5 moves a patient to another arm).

``--float32`` compares this tree's float32 engine (x64 off, as ``runtime.precision=float32``) with its float64 one:
the outcome tables are built in float64 for both, and patients are drawn by integer arithmetic, so both runs
randomise the same patients (``tests/platform/test_engine_float32.py``). It also prints each run's engine time per
trial (wall, batches of 2000 after a compiling batch; each precision in its own process, so the ratio carries this
machine's process-to-process noise; ``bench_trials.py`` times both precisions side by side).

Usage: ``python benchmarks/compare_decisions.py (--baseline-src DIR | --float32) [--trials 10000] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2000


def _worker(out: str, n: int, table: str, dtype: str = "float64") -> None:
    import jax

    jax.config.update("jax_enable_x64", True)  # the outcome tables are built in float64 for either precision
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_trials import _engine_case

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._engine.run import make_trial_function

    cases = {}
    for name in ("adaptr quadrature", "immunosep quadrature"):
        design, outcomes = _engine_case(name, table)
        cases[name] = design, jax.tree_util.tree_map(lambda x: np.asarray(x) if hasattr(x, "dtype") else x, outcomes)
    jax.config.update("jax_enable_x64", dtype == "float64")
    res = {}
    for name, (design, outcomes) in cases.items():
        fn, _ = make_trial_function(design, outcomes)
        jax.block_until_ready(fn(index_keys(stage_key(2, "bench"), 0, min(BATCH, n))))  # compile
        parts: dict[str, list] = {"decision": [], "outcome": [], "stop": [], "pbest": []}
        t0 = time.perf_counter()
        for s in range(0, n, BATCH):
            r = fn(index_keys(stage_key(2, "bench"), s, min(BATCH, n - s)))
            parts["decision"].append(np.asarray(r["units"].decision))
            parts["outcome"].append(np.asarray(r["units"].outcome))
            parts["stop"].append(np.asarray(r["units"].stop_look))
            parts["pbest"].append(np.asarray(r["per_look"]["p_best_unit"]))
        res[f"{name.split()[0]}_us_per_trial"] = np.asarray(1e6 * (time.perf_counter() - t0) / n)
        for k, v in parts.items():
            res[f"{name.split()[0]}_{k}"] = np.concatenate(v)
    np.savez(out, **res)


def _run(src: str | None, out: str, n: int, table: str, dtype: str = "float64") -> None:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, __file__, "--worker", out, "--trials", str(n), "--table", table, "--dtype", dtype]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=src or ROOT)
    if done.returncode:
        raise RuntimeError(f"worker (src={src}) failed:\n{done.stderr[-3000:]}")


def compare(new: dict, old: dict) -> dict:
    """Changed trials, P(superiority) and the first look's largest P(best) difference, per design."""
    out = {}
    for d in ("adaptr", "immunosep"):
        dec_changed = np.any(new[f"{d}_decision"] != old[f"{d}_decision"], axis=(-1, -2))
        changed = (
            dec_changed
            | np.any(new[f"{d}_outcome"] != old[f"{d}_outcome"], axis=-1)
            | np.any(new[f"{d}_stop"] != old[f"{d}_stop"], axis=-1)
        )
        p_new, p_old = new[f"{d}_pbest"][:, 0], old[f"{d}_pbest"][:, 0]
        both = np.isfinite(p_new) & np.isfinite(p_old)
        out[d] = dict(
            trials=int(changed.size),
            trials_changed=int(changed.sum()),
            p_superiority_new=float(np.mean(new[f"{d}_outcome"][:, 0] == 1)),
            p_superiority_baseline=float(np.mean(old[f"{d}_outcome"][:, 0] == 1)),
            max_abs_diff_p_best_first_look=float(np.abs(p_new - p_old)[both].max()),
            us_per_trial_new=float(new[f"{d}_us_per_trial"]) if f"{d}_us_per_trial" in new else None,
            us_per_trial_baseline=float(old[f"{d}_us_per_trial"]) if f"{d}_us_per_trial" in old else None,
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-src", help="the baseline sepsim source tree (e.g. git archive of a commit)")
    ap.add_argument("--float32", action="store_true", help="this tree in float32 against float64 instead")
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    ap.add_argument("--dtype", default="float64", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.trials, args.table, args.dtype)
        return {}
    if bool(args.baseline_src) == args.float32:
        ap.error("give one of --baseline-src and --float32")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_trials import TABLE, build_immunosep_table

    table = str(build_immunosep_table(TABLE.with_name("immunosep_table_1200.nc"), 1200))
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: str(Path(tmp) / f"{k}.npz") for k in ("new", "old")}
        if args.float32:
            _run(None, paths["new"], args.trials, table, "float32")
            _run(None, paths["old"], args.trials, table, "float64")
        else:
            _run(None, paths["new"], args.trials, table)
            _run(args.baseline_src, paths["old"], args.trials, table)
        res = compare(dict(np.load(paths["new"])), dict(np.load(paths["old"])))
    new, old = ("float32", "float64") if args.float32 else ("this tree", "baseline")
    print(f"{new} against {old}, the same {args.trials} trial keys:")
    for d, r in res.items():
        speed = ""
        if r["us_per_trial_new"] and r["us_per_trial_baseline"]:
            speed = f"; engine {r['us_per_trial_new']:.0f} vs {r['us_per_trial_baseline']:.0f} us per trial (wall)"
        print(
            f"{d}: {r['trials_changed']} of {r['trials']} trials decided differently; P(sup) "
            f"{r['p_superiority_new']:.4f} vs {r['p_superiority_baseline']:.4f}; first look max |dP(best)| "
            f"{r['max_abs_diff_p_best_first_look']:.2e}{speed}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
