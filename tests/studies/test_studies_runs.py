"""Each study end to end from its one-line command (small): the run directory holds the study's files, every
netCDF opens with plain ``xr.open_dataset``, and the report holds the study's section. Minutes each: slow suite."""

from __future__ import annotations

import json
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


def test_thresholds_sweep_collects_into_one_dataset(tmp_path):
    from sepsim.collect import collect

    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    args = ["-m", "experiment=thresholds", "study.ferritin_cutoff=3000,6000", "population.n_patients=900",
            "n_trials=40", f"runtime.cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={tmp_path / 'sw'}"]  # fmt: skip
    out = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    merged, _ = collect(tmp_path / "sw", artifact="thresholds.nc")
    mals = merged["share_MALS"]
    assert mals.sizes == {"study_ferritin_cutoff": 2}  # plain netCDF name (collect)
    assert float(mals.isel(study_ferritin_cutoff=0)) > float(mals.isel(study_ferritin_cutoff=1))
    assert "power" in merged and "harm_mortality_misclassified" in merged
    # the cut-offs re-make the strata the trials draw from: no point may reuse another point's cached trials
    for run in ("0", "1"):
        summary = json.loads((tmp_path / "sw" / run / "summary.json").read_text())
        assert summary["extra"]["reused_from_cache"]["trials"] is False, run


def test_platform_study_end_to_end(tmp_path):
    run = _sepsim(["experiment=platform", "population.n_patients=300", "design.look_n=[100,200]", "n_trials=20"],
                  tmp_path)  # fmt: skip
    table = xr.open_dataset(run / "platform_comparison.nc")
    assert list(table["design"].values) == ["platform", "fixed_allocation", "all_comers"]
    assert np.isfinite(table["p_superior"].sel(design="platform", stratum="MALS", arm="anakinra"))
    assert 'id="study-platform"' in (run / "report.html").read_text()
