"""Each study end to end from its one-line command (small): the run directory holds the study's files, every
netCDF opens with plain ``xr.open_dataset``, and the report holds the study's section. Minutes each: slow suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.slow


def _sepsim(args: list[str], cwd: Path) -> Path:
    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    run = cwd / "run"
    out = subprocess.run(
        [str(exe), *args, "runtime.progress=log", f"runtime.cache_dir={cwd / 'cache'}", f"hydra.run.dir={run}"],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=1200,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for nc in run.glob("*.nc"):
        xr.open_dataset(nc).close()  # opens anywhere, no options
    return run


def test_immunosep_study_end_to_end(tmp_path):
    run = _sepsim(["population.n_patients=900", "n_trials=40"], tmp_path)  # bare sepsim = immunosep
    table = xr.open_dataset(run / "immunosep_table.nc")
    assert set(table["stratum"].values) == {"MALS", "immunoparalysis", "all"}
    assert np.isfinite(table["proportion_mean"]).all()
    assert 'id="study-immunosep"' in (run / "report.html").read_text()
    assert (run / "immunosep_table.csv").read_text().count("\n") == 1 + table["quantity"].size * 3 * 2
    # the day-9 SOFA response defined in sepsim.studies equals the outcome table's own responder rule
    from sepsim.studies import sofa_response

    (cached,) = (tmp_path / "cache").glob("outcomes-*.nc")
    outcomes = xr.open_dataset(cached)
    np.testing.assert_array_equal(sofa_response(outcomes, 9), outcomes["responder"].values)


def test_cytosorb_study_end_to_end(tmp_path):
    run = _sepsim(["experiment=cytosorb", "population.n_patients=200", "n_trials=40"], tmp_path)
    course = xr.open_dataset(run / "cytosorb_course.nc")
    assert list(course["arm"].values) == ["standard_care", "cytosorb"] and course.sizes["day"] == 15
    assert (run / "figures" / "cytosorb_course.png").stat().st_size > 10_000
    assert 'id="study-cytosorb"' in (run / "report.html").read_text()


def test_design_comparison_study_end_to_end(tmp_path):
    run = _sepsim(["experiment=design_comparison", "n_trials=40"], tmp_path)
    table = xr.open_dataset(run / "design_comparison.nc")
    assert table.sizes == {"design": 3, "scenario": 3}
    assert np.isfinite(table["p_superiority"]).all()
    assert 'id="study-design_comparison"' in (run / "report.html").read_text()
