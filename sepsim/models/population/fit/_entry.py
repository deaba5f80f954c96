"""One call for the CLI and the pipeline: calibrate, diagnose, write and (optionally) ship the posterior."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ...._io import atomic_write_text
from .._posterior import default_posterior_path
from ._calibrate import CalibrationConfig, run_calibration
from ._report import check_gates, inference_data, write_figures, write_outputs

__all__ = ["calibrate_and_report"]

log = logging.getLogger("sepsim")


def calibrate_and_report(
    cfg: CalibrationConfig, out_dir: str | Path, *, ship: bool = False, figures: bool = True
) -> bool:
    """Run Fit 1 and write ``out_dir``; returns whether the convergence gates passed (said plainly either way).

    ``ship`` replaces the committed posterior only when the gates pass: a non-converged fit stays in ``out_dir``.
    """
    out = Path(out_dir)
    result = run_calibration(cfg)
    idata = inference_data(result, seed=cfg.seed)
    gates = check_gates(idata)
    shipped = ship and gates.passed
    table = write_outputs(idata, result, out, default_posterior_path() if shipped else None)
    atomic_write_text(out / "rounds.json", json.dumps({"rounds": result.rounds, "gates": gates._asdict()}, indent=1))
    if figures:
        write_figures(idata, result, out / "figures")
    print(table)
    print(gates.describe())
    log.info("population fit: %s", gates.describe())
    if not gates.passed:
        log.warning("population fit did not converge; see %s", out / "rounds.json")
        if ship:
            print(f"not shipped: the committed posterior {default_posterior_path()} is unchanged")
    return gates.passed
