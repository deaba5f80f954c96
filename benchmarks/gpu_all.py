"""Every GPU measurement of issue 14 (part 5) in one run, written to one JSON, with the fraction of the roofline.

Measurements (each with compile time, best-of-repeats wall time, and XLA's FLOP and byte counts):

1. ``patients``: 28-day courses per second of the batched solver (float64, placebo and anakinra + CytoSorb) at
   ``--patients`` patients (10^6 by default) in calls of ``--patient-chunk`` patients (``bench_scale.courses``).
2. ``adaptr``: trials per second of the adaptr design (``bench_trials.py``'s adaptr row) on batches of
   ``--trials`` trials, float64 and float32 (each dtype in its own process); and, on the device, float32 against
   float64 on the same ``--compare-trials`` trials (the outcome table built in float64 for both, as
   ``benchmarks/compare_decisions.py --float32`` does on a CPU): trials ending differently and P(superiority).
3. ``study``: the ``immunosep`` study end to end (cohort, potential outcomes, screening, ``run_trials``) with
   ``--study-patients`` patients and ``--study-trials`` trials (10^6 and 10^4: the issue's study;
   ``bench_scale.study``), with no daily model state in the outcome table (``--daily-states``; the trials read
   none, and all of them would need ~80 GB of host memory at 10^6 patients). Needs hydra, arviz and h5netcdf;
   skipped, with the reason in the JSON, without them.

Roofline: XLA's ``cost_analysis()`` of one compiled call counts a loop body once, so FLOPs and bytes per unit are
estimated as (count per call / units per call) x loop trips (mean attempted solver steps for a course, looks for a
trial), then achieved FLOP/s and bytes/s are divided by the device's peak (``PEAKS``: FP64 or FP32 by the dtype,
memory bandwidth). The larger fraction names the bound; the arithmetic intensity against the ridge point
(peak FLOP/s / bandwidth) says which side of the roofline the kernel sits on. On a device without constants
(a CPU in ``--quick``) the fractions are null.

On the device machine (see benchmarks/README.md, "GPU figures"): ``python benchmarks/gpu_all.py --json
$OUT/gpu_all.json`` (about 5-8 minutes on one H100/H200). Here: ``python benchmarks/gpu_all.py --quick --json
PATH`` runs every part at toy sizes on the CPU (tests/test_gpu_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import courses, machine, study, xla_cost  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# Dense peak throughput without sparsity, TFLOP/s, and memory bandwidth, TB/s. Sources: NVIDIA H100 Tensor Core GPU
# datasheet (2023; H100 SXM5 80GB: FP64 34, FP64 Tensor Core 67, FP32 67, HBM3 3.35 TB/s; H100 PCIe 80GB: FP64 26,
# FP32 51, HBM2e 2.0 TB/s) and NVIDIA H200 Tensor Core GPU datasheet (2024; H200 SXM 141GB: FP64 34, FP32 67, HBM3e
# 4.8 TB/s; H200 NVL: FP64 30, FP32 60, 4.8 TB/s). FP64 is the vector (non-tensor-core) figure: nothing here is a
# matrix multiply large enough for the tensor cores.
PEAKS = {
    "H100 PCIe": dict(fp64_tflops=26.0, fp32_tflops=51.0, bandwidth_tbs=2.0),
    "H100": dict(fp64_tflops=34.0, fp32_tflops=67.0, bandwidth_tbs=3.35),  # SXM5 ("NVIDIA H100 80GB HBM3")
    "H200 NVL": dict(fp64_tflops=30.0, fp32_tflops=60.0, bandwidth_tbs=4.8),
    "H200": dict(fp64_tflops=34.0, fp32_tflops=67.0, bandwidth_tbs=4.8),  # SXM
}


def peaks_for(device_kind: str) -> dict | None:
    """The peak constants of a ``jax.Device.device_kind`` (most specific name first), or None."""
    for name in sorted(PEAKS, key=len, reverse=True):
        if all(part.lower() in device_kind.lower() for part in name.split()):
            return dict(PEAKS[name], matched=name)
    return None


def roofline(flops_per_unit, bytes_per_unit, units_per_s: float, dtype: str, peaks: dict | None) -> dict:
    """Achieved FLOP/s and bytes/s, their fractions of the device's peaks, and what bounds the kernel."""
    out: dict = dict(
        flops_per_unit=flops_per_unit,
        bytes_per_unit=bytes_per_unit,
        achieved_tflops=None if flops_per_unit is None else flops_per_unit * units_per_s / 1e12,
        achieved_tbs=None if bytes_per_unit is None else bytes_per_unit * units_per_s / 1e12,
        fraction_flops=None,
        fraction_bandwidth=None,
        bound=None,
    )
    if peaks is None or flops_per_unit is None or bytes_per_unit is None:
        return out
    peak_f = peaks["fp64_tflops" if dtype == "float64" else "fp32_tflops"]
    out["fraction_flops"] = out["achieved_tflops"] / peak_f
    out["fraction_bandwidth"] = out["achieved_tbs"] / peaks["bandwidth_tbs"]
    intensity = flops_per_unit / max(bytes_per_unit, 1e-30)
    ridge = peak_f / peaks["bandwidth_tbs"]
    out["arithmetic_intensity"] = intensity
    out["ridge_point"] = ridge
    side = "memory-bound side" if intensity < ridge else "compute-bound side"
    frac = max(out["fraction_flops"], out["fraction_bandwidth"])
    out["bound"] = (
        f"{side} of the roofline (intensity {intensity:.2f} vs ridge {ridge:.1f} FLOP/byte); at {100 * frac:.1f}% "
        "of the nearer roof" + ("; far below both roofs: latency (loops, launches, gathers)" if frac < 0.2 else "")
    )
    return out


def _patients(args, peaks) -> list[dict]:
    rows = []
    for arm in ("placebo", "anakinra+cytosorb"):
        r = courses(arm, args.patients, args.repeats, chunk_size=args.patient_chunk, cost=True)
        units = r["chunk_size"]
        trips = r["steps_mean"] + r["rejected_mean"]
        f = None if r["xla_flops_per_call"] is None else r["xla_flops_per_call"] / units * trips
        b = None if r["xla_bytes_per_call"] is None else r["xla_bytes_per_call"] / units * trips
        r["roofline"] = roofline(f, b, r["courses_per_s"], "float64", peaks)
        rows.append(r)
        print(f"patients {arm}: {r['courses_per_s']:.0f} courses/s at N={args.patients}", flush=True)
    return rows


def adaptr(batch: int, repeats: int) -> dict:
    """Trials per second of the adaptr design in this process's dtype (bench_trials' timing), with XLA's counts of
    one batch."""
    import jax
    from bench_trials import _engine_case, _time_engine

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._engine.run import make_trial_function

    timed = _time_engine("adaptr quadrature", batch, repeats, None)
    fn, plan = make_trial_function(*_engine_case("adaptr quadrature", None))
    xla = xla_cost(jax.jit(lambda k: fn(k)), index_keys(stage_key(2, "bench"), 0, batch))
    return dict(
        **timed,
        n_looks=plan.n_looks,
        xla_flops_per_call=xla.get("flops"),
        xla_bytes_per_call=xla.get("bytes accessed"),
    )


def decisions(design, table, n: int, batch: int) -> dict:
    """Each of ``n`` trials' outcome and stop look (trial keys ``index_keys(stage_key(2, "compare"), i)``), in
    batches of at most ``batch``."""
    import numpy as np

    from sepsim._keys import index_keys, stage_key
    from sepsim.platform._engine.run import make_trial_function

    fn, _ = make_trial_function(design, table)
    outcome, stop = [], []
    for s in range(0, n, batch):
        r = fn(index_keys(stage_key(2, "compare"), s, min(batch, n - s)))
        outcome.append(np.asarray(r["units"].outcome)[:, 0])
        stop.append(np.asarray(r["trial_stop_look"]))
    return dict(outcome=np.concatenate(outcome).tolist(), stop_look=np.concatenate(stop).tolist())


def compare_precisions(r64: dict, r32: dict) -> dict:
    """float32 against float64 on the same trials: how many end differently, and P(superiority) in each."""
    import numpy as np

    o64, o32 = np.asarray(r64["outcome"]), np.asarray(r32["outcome"])
    differ = (o64 != o32) | (np.asarray(r64["stop_look"]) != np.asarray(r32["stop_look"]))
    return dict(
        trials=int(o64.size),
        trials_ending_differently=int(differ.sum()),
        p_superiority_float64=float(np.mean(o64 == 1)),
        p_superiority_float32=float(np.mean(o32 == 1)),
    )


def _adaptr_worker(dtype: str, batch: int, repeats: int, compare: int) -> dict:
    env = dict(os.environ, GPU_ALL_DTYPE=dtype)
    cmd = [sys.executable, __file__, "--adaptr-worker", str(batch), str(repeats), str(compare)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"adaptr worker ({dtype}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _study(args) -> dict:
    try:
        import arviz  # noqa: F401
        import h5netcdf  # noqa: F401
        import hydra  # noqa: F401
    except ImportError as err:
        return dict(skipped=f"{err} (install the wheels: benchmarks/README.md, 'GPU figures')")
    return study(
        args.study_patients,
        args.study_trials,
        chunk_size=args.patient_chunk,
        trial_chunk=args.trials,
        daily_states=args.daily_states,
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="toy sizes, any device (checks that every part runs)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--parts", default="patients,adaptr,study", help="comma-separated subset of the parts")
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--patient-chunk", type=int, default=100_000, help="patients per compiled call")
    ap.add_argument("--trials", type=int, default=131_072, help="trials per batch (adaptr) and per study batch")
    ap.add_argument("--study-patients", type=int, default=1_000_000)
    ap.add_argument("--study-trials", type=int, default=10_000)
    # the trials read no daily state: 10^6 patients with every state kept would need ~80 GB of host memory
    # (bench_scale.md), with none ~9 kB per patient
    ap.add_argument("--daily-states", default="[]", help="the study's population.daily_states (all, [], [il6,...])")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compare-trials", type=int, default=10_000, help="adaptr: float32 against float64 on these")
    ap.add_argument("--adaptr-worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.adaptr_worker:
        import jax
        import numpy as np
        from bench_trials import _engine_case

        jax.config.update("jax_enable_x64", True)  # the compared trials' table is built in float64 for both
        design, table = _engine_case("adaptr quadrature", None)
        table = jax.tree_util.tree_map(lambda x: np.asarray(x) if hasattr(x, "dtype") else x, table)
        jax.config.update("jax_enable_x64", os.environ.get("GPU_ALL_DTYPE", "float64") == "float64")
        batch, repeats, compare = args.adaptr_worker
        res = adaptr(batch, repeats)
        res["decisions"] = decisions(design, table, compare, batch)
        print(json.dumps(res))
        return {}
    if args.quick:
        args.patients, args.patient_chunk, args.trials, args.repeats = 200, 100, 256, 1
        args.study_patients, args.study_trials, args.compare_trials = 800, 100, 512
    import jax

    jax.config.update("jax_enable_x64", True)
    dev = jax.devices()[0]
    peaks = peaks_for(dev.device_kind) if dev.platform == "gpu" else None
    parts = set(args.parts.split(","))
    result: dict = dict(
        quick=args.quick,
        device=dict(platform=dev.platform, kind=dev.device_kind, count=jax.device_count(), peaks=peaks),
        machine=machine(),
        date_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        sizes=dict(patients=args.patients, patient_chunk=args.patient_chunk, trials=args.trials),
    )
    t_start = time.perf_counter()
    if "patients" in parts:
        result["patients"] = _patients(args, peaks)
    if "adaptr" in parts:
        result["adaptr"] = {}
        for dtype in ("float64", "float32"):
            r = _adaptr_worker(dtype, args.trials, args.repeats, args.compare_trials)
            f = None if r["xla_flops_per_call"] is None else r["xla_flops_per_call"] / args.trials * r["n_looks"]
            b = None if r["xla_bytes_per_call"] is None else r["xla_bytes_per_call"] / args.trials * r["n_looks"]
            r["roofline"] = roofline(f, b, r["trials_per_s"], dtype, peaks)
            result["adaptr"][dtype] = r
            print(f"adaptr {dtype}: {r['trials_per_s']:.0f} trials/s (batch {args.trials})", flush=True)
        cmp = compare_precisions(*(result["adaptr"][d].pop("decisions") for d in ("float64", "float32")))
        result["adaptr"]["float32_vs_float64"] = cmp
        print(
            f"adaptr float32 against float64: {cmp['trials_ending_differently']} of {cmp['trials']} trials end "
            f"differently; P(sup) {cmp['p_superiority_float32']:.4f} vs {cmp['p_superiority_float64']:.4f}",
            flush=True,
        )
    if "study" in parts:
        result["study"] = _study(args)
        s = result["study"]
        if "skipped" in s:
            print("study skipped:", s["skipped"], flush=True)
        else:
            print(
                f"study: {s['total_wall_s']:.1f} s for {s['n_patients']} patients, {s['n_trials']} trials", flush=True
            )
    result["total_wall_s"] = time.perf_counter() - t_start
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
