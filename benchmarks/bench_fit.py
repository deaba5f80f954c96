"""Wall time and ESS per second of Fit 1 (population model: library re-weighting + NUTS) on this CPU.

Rows: ``library`` (drawing and solving the library: placebo for every patient, the matched active arm for the
MALS / immunoparalysis patients) and ``nuts`` (NUTS over the hyper-parameters: no ODE solve per step). ESS/s is the
minimum bulk ESS over the sampled hyper-parameters (the fitted mean shifts) divided by the NUTS wall time
(warm-up included); CPU time of this process is printed too (other jobs on a shared machine inflate wall time).

Usage: ``python benchmarks/bench_fit.py [--quick] [--data] [--json PATH]`` (``--quick``: 1000 library patients,
one round, one chain of 100 + 100 iterations; default: the ``CalibrationConfig`` defaults =
``experiments/calibrate.yaml``). ``--data``: Fit 2 instead (hierarchical NUTS through the ODE on the shipped
synthetic dataset: every gradient solves every patient; default the ``DataFitConfig`` defaults on all 8 patients,
``--quick`` 4 patients and 2 chains of 100 + 100); ESS/s over ``mu_fit``, ``sd_fit``, NUTS wall time including
the first call's compile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sepsim.models.population._data import PatientData
    from sepsim.models.population.fit_data import DataFitConfig

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--data", action="store_true", help="Fit 2 (patient-level data) instead of Fit 1")
    ap.add_argument(
        "--parameterisation",
        choices=("centred", "whitened", "both"),
        default="both",
        help="Fit 2 only: which parameterisation(s) of the hierarchy; both: one after the other in this run",
    )
    args = ap.parse_args()
    import jax

    jax.config.update("jax_enable_x64", True)
    if args.data:
        _bench_data(args)
        return
    from sepsim.models.population.fit import CalibrationConfig, run_calibration
    from sepsim.models.population.fit._report import check_gates, inference_data

    cfg = CalibrationConfig()
    if args.quick:
        cfg = cfg._replace(library_size=1000, rounds=1, num_chains=1, num_warmup=100, num_samples=100)
    c0, w0 = time.process_time(), time.monotonic()
    result = run_calibration(cfg)
    wall, cpu = time.monotonic() - w0, time.process_time() - c0
    gates = check_gates(inference_data(result, seed=cfg.seed, prior_draws=50))
    lib_s = sum(r["library_s"] for r in result.rounds)
    nuts_s = result.rounds[-1]["nuts_s"]
    rows = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "config": cfg._asdict(),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "library_s": lib_s,
        "nuts_s_last_round": nuts_s,
        "min_bulk_ess": round(gates.min_ess_bulk, 1),
        "ess_per_s": round(gates.min_ess_bulk / max(nuts_s, 1e-9), 3),
        "max_rhat": round(gates.max_rhat, 4),
        "divergences": gates.divergences,
        "rounds": result.rounds,
    }
    print("| stage | wall s |\n|---|---:|")
    print(f"| library ({cfg.library_size} x {len(result.rounds)} rounds) | {lib_s:.1f} |")
    print(f"| nuts (last round, {cfg.num_chains} x {cfg.num_warmup}+{cfg.num_samples}) | {nuts_s:.1f} |")
    print(f"| total | {wall:.1f} (CPU {cpu:.1f}) |")
    print(f"min bulk ESS {gates.min_ess_bulk:.0f} -> {rows['ess_per_s']} ESS/s; {gates.describe()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


def _bench_data(args: argparse.Namespace) -> None:
    from sepsim.models.population._data import PatientData, load_patient_data
    from sepsim.models.population.fit_data import DataFitConfig
    from sepsim.models.population.fit_data._synthetic import synthetic_dir

    d = synthetic_dir()
    data = load_patient_data(d / "patients.csv", d / "measurements.csv")
    cfg = DataFitConfig()
    if args.quick:
        keep = data.patients.index[:4]
        data = PatientData(data.patients.loc[keep], data.measurements[data.measurements.patient_id.isin(keep)])
        cfg = cfg._replace(num_warmup=100, num_samples=100)
    pars = ("centred", "whitened") if args.parameterisation == "both" else (args.parameterisation,)
    rows = [_fit_data_once(data, cfg._replace(parameterisation=par)) for par in pars]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows if len(rows) > 1 else rows[0], fh, indent=1, default=str)


def _fit_data_once(data: PatientData, cfg: DataFitConfig) -> dict[str, object]:
    from sepsim.models.population.fit_data import data_inference_data, observations, run_data_fit

    c0 = time.process_time()
    result = run_data_fit(observations(data), cfg)
    cpu = time.process_time() - c0
    idata, gates = data_inference_data(result)
    steps = float(idata.sample_stats["n_steps"].mean())
    cfg = result.config
    rows = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "fit": "Fit 2 (synthetic dataset)",
        "patients": result.obs.n_patients,
        "config": cfg._asdict(),
        "nuts_s": round(result.seconds, 1),
        "cpu_s": round(cpu, 1),
        "mean_leapfrog_steps": round(steps, 1),
        "min_bulk_ess": round(gates.min_ess_bulk, 1),
        "ess_per_s": round(gates.min_ess_bulk / max(result.seconds, 1e-9), 4),
        "max_rhat": round(gates.max_rhat, 4),
        "divergences": gates.divergences,
    }
    print(
        f"| Fit 2, {cfg.parameterisation}, {rows['patients']} patients, {cfg.num_chains} x {cfg.num_warmup}+"
        f"{cfg.num_samples} | NUTS {result.seconds:.1f} s (CPU {cpu:.1f}) | {steps:.1f} leapfrog steps/iteration |"
    )
    print(f"min bulk ESS {gates.min_ess_bulk:.0f} -> {rows['ess_per_s']} ESS/s; {gates.describe()}", flush=True)
    return rows


if __name__ == "__main__":
    main()
