"""``python -m sepsim.models.population fit [options]``: Fit 1 (calibration to the published targets).

``fit-data PATIENTS_CSV``: Fit 2 (patient-level data); ``synthetic``: regenerate Fit 2's synthetic example dataset;
``sbc``: simulation-based calibration of Fit 1 at its reduced configuration (rank-ECDF figure; exit 1 when a
parameter leaves its band); ``sbc-data``: the same for Fit 2 (exit 1 also when a transition diverges).

Writes ``<out>/posterior.nc`` (arviz InferenceData), ``<out>/targets.md`` (every target vs its posterior predictive
95% interval, also printed), ``<out>/rounds.json`` and ``<out>/figures/*.png``; ``--ship`` also replaces the
committed posterior that ``population=immunosep`` cohorts use, only if the convergence gates pass (R-hat <= 1.01,
bulk and tail ESS >= 400, no divergences). Exit status 1 under ``--strict`` when they fail.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    from .fit import CalibrationConfig
    from .fit._entry import calibrate_and_report
    from .fit_data import DataFitConfig
    from .fit_data._model import PARAMETERISATIONS

    d = CalibrationConfig()
    ap = argparse.ArgumentParser(prog="python -m sepsim.models.population", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="Fit 1: calibrate to conf/targets/immunosep.yaml")
    fit.add_argument("--targets", default=None, help="targets file (default conf/targets/immunosep.yaml)")
    fit.add_argument("--library-size", type=int, default=d.library_size)
    fit.add_argument("--rounds", type=int, default=d.rounds)
    fit.add_argument("--warmup", type=int, default=d.num_warmup)
    fit.add_argument("--samples", type=int, default=d.num_samples)
    fit.add_argument("--chains", type=int, default=d.num_chains)
    fit.add_argument("--seed", type=int, default=d.seed)
    fit.add_argument("--max-tree-depth", type=int, default=d.max_tree_depth)
    fit.add_argument("--out", default="outputs/calibrate", help="output directory")
    fit.add_argument(
        "--ship", action="store_true", help="replace the committed posterior netCDF (only if the gates pass)"
    )
    fit.add_argument("--strict", action="store_true", help="exit 1 if the convergence gates fail")
    fit.add_argument("--no-figures", action="store_true")
    fd = sub.add_parser("fit-data", help="Fit 2: hierarchical NUTS through the ODE on patient-level files")
    fd.add_argument("patients", help="patients.csv (measurements.csv is read from the same folder)")
    fd.add_argument("--out", default="outputs/fit_data/posterior.nc", help="posterior netCDF to write")
    fd.add_argument("--warmup", type=int, default=DataFitConfig().num_warmup)
    fd.add_argument("--samples", type=int, default=DataFitConfig().num_samples)
    fd.add_argument("--chains", type=int, default=DataFitConfig().num_chains)
    fd.add_argument("--seed", type=int, default=0)
    fd.add_argument("--parameterisation", choices=PARAMETERISATIONS, default=DataFitConfig().parameterisation)
    fd.add_argument("--strict", action="store_true", help="exit 1 if the convergence gates fail")
    syn = sub.add_parser("synthetic", help="regenerate the synthetic example dataset of Fit 2 (fixed seed)")
    syn.add_argument("--out", default=None, help="output folder (default: the shipped copy in the package)")
    sbc = sub.add_parser("sbc", help="simulation-based calibration of Fit 1 (reduced configuration)")
    sbc.add_argument("--replicates", type=int, default=200)
    sbc.add_argument("--library-size", type=int, default=600)
    sbc.add_argument("--seed", type=int, default=11)
    sbc.add_argument("--figure", default="docs/population/sbc_fit1.png", help="rank-ECDF figure to write")
    from .fit_data._sbc import Fit2SbcConfig

    d2 = Fit2SbcConfig()
    sb2 = sub.add_parser("sbc-data", help="simulation-based calibration of Fit 2 (reduced configuration)")
    sb2.add_argument("--replicates", type=int, default=d2.replicates)
    sb2.add_argument("--patients", type=int, default=d2.patients)
    sb2.add_argument("--warmup", type=int, default=d2.num_warmup)
    sb2.add_argument("--samples", type=int, default=d2.num_samples)
    sb2.add_argument("--thin", type=int, default=d2.thin)
    sb2.add_argument("--max-tree-depth", type=int, default=d2.max_tree_depth)
    sb2.add_argument("--batch", type=int, default=d2.batch, help="replicates per vmapped NUTS call")
    sb2.add_argument("--seed", type=int, default=d2.seed)
    sb2.add_argument("--parameterisation", choices=PARAMETERISATIONS, default=d2.parameterisation)
    sb2.add_argument("--figure", default="docs/population/sbc_fit2.png", help="rank-ECDF figure to write")
    args = ap.parse_args(argv)
    if args.command == "sbc-data":
        from .fit_data._sbc import report_fit2_sbc

        cfg2 = d2._replace(
            replicates=args.replicates,
            patients=args.patients,
            num_warmup=args.warmup,
            num_samples=args.samples,
            thin=args.thin,
            max_tree_depth=args.max_tree_depth,
            batch=args.batch,
            seed=args.seed,
            parameterisation=args.parameterisation,
        )
        return 0 if report_fit2_sbc(cfg2, args.figure) else 1
    if args.command == "sbc":
        from .fit._sbc import Fit1SbcConfig, report_fit1_sbc

        scfg = Fit1SbcConfig(replicates=args.replicates, library_size=args.library_size, seed=args.seed)
        return 0 if report_fit1_sbc(scfg, args.figure) else 1
    if args.command == "synthetic":
        from .fit_data._synthetic import write

        print(f"wrote {write(args.out)}")
        return 0
    if args.command == "fit-data":
        from .fit_data import fit_patient_data

        dcfg = DataFitConfig(
            num_warmup=args.warmup,
            num_samples=args.samples,
            num_chains=args.chains,
            seed=args.seed,
            parameterisation=args.parameterisation,
        )
        passed = fit_patient_data(args.patients, args.out, dcfg)
        return 1 if (args.strict and not passed) else 0
    cfg = CalibrationConfig(
        targets=args.targets,
        library_size=args.library_size,
        rounds=args.rounds,
        num_warmup=args.warmup,
        num_samples=args.samples,
        num_chains=args.chains,
        seed=args.seed,
        max_tree_depth=args.max_tree_depth,
    )
    passed = calibrate_and_report(cfg, args.out, ship=args.ship, figures=not args.no_figures)
    return 1 if (args.strict and not passed) else 0


if __name__ == "__main__":
    sys.exit(main())
