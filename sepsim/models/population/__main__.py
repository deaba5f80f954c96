"""``python -m sepsim.models.population fit [options]``: Fit 1 (calibration to the published targets).

Writes ``<out>/posterior.nc`` (arviz InferenceData), ``<out>/targets.md`` (every target vs its posterior predictive
95% interval, also printed), ``<out>/rounds.json`` and ``<out>/figures/*.png``; ``--ship`` also replaces the
committed posterior that ``population=immunosep`` cohorts use. Exit status 1 under ``--strict`` when the
convergence gates fail (R-hat <= 1.01, bulk ESS >= 400, no divergences).
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
    fit.add_argument("--ship", action="store_true", help="replace the committed posterior netCDF")
    fit.add_argument("--strict", action="store_true", help="exit 1 if the convergence gates fail")
    fit.add_argument("--no-figures", action="store_true")
    args = ap.parse_args(argv)
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
