"""One call for the CLI and the pipeline: load patient-level files, run Fit 2, write its posterior."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .._data import load_patient_data, measurements_file_for
from ._model import DEFAULT_DATA_FIT, DataFitConfig, data_inference_data, run_data_fit
from ._observations import observations

__all__ = ["fit_patient_data", "measurements_file_for"]

log = logging.getLogger("sepsim")


def fit_patient_data(
    patients_file: str | Path,
    out_file: str | Path,
    config: DataFitConfig = DEFAULT_DATA_FIT,
    measurements_file: str | Path | None = None,
) -> bool:
    """Validate the files, fit, write the InferenceData netCDF to ``out_file``; returns whether the gates passed
    (the file is written either way, and says so in its attrs: a cohort from a non-converged fit is the caller's
    decision, logged as a warning)."""
    mfile = measurements_file_for(patients_file) if measurements_file is None else measurements_file
    data = load_patient_data(patients_file, mfile)
    result = run_data_fit(observations(data), config)
    idata, gates = data_inference_data(result)
    idata.posterior.attrs.update({"gates": gates.describe(), "nuts_seconds": round(result.seconds, 1)})
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    idata.to_netcdf(str(tmp), engine="h5netcdf")
    os.replace(tmp, out)
    print(f"Fit 2 ({len(data.patients)} patients, NUTS {result.seconds:.0f} s): {gates.describe()}")
    if not gates.passed:
        log.warning("Fit 2 did not converge: %s", gates.describe())
    return gates.passed
