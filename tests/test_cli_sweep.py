"""End-to-end CLI: a single run's directory, and a real 2x2 sweep merged into one Dataset (issue 2, items 4, 6, 7)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from sepsim.cli import collect_main
from sepsim.collect import collect

# a small, fast study: the adaptr design cut to 3 looks, few trials
SMALL = [
    "experiment=adaptr",
    "n_trials=40",
    "design.look_n=[100,200,300]",
    "design.enrolment.randomised_n=null",
    "scenario.n_patients=5000",
    "runtime.progress=log",
]


def _sepsim(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HYDRA_FULL_ERROR": "1"}
    out = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def test_single_run_writes_the_run_directory_and_reuses_cache(tmp_path: Path):
    first = _sepsim([*SMALL, "hydra.run.dir=run1"], tmp_path)
    run = tmp_path / "run1"
    for name in ("config.yaml", "results.nc", "oc.nc", "summary.json", "report.html", "sepsim.log"):
        assert (run / name).is_file(), name
    assert list((run / "figures").glob("*.png"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["extra"]["reused_from_cache"] == {"trials": False}
    with xr.open_dataset(run / "results.nc", engine="h5netcdf") as res:
        assert res.sizes["trial"] == 40 and res.sizes["look"] == 3
    assert "ran 40 trials" in first.stdout
    _sepsim([*SMALL, "hydra.run.dir=run2"], tmp_path)
    assert json.loads((tmp_path / "run2" / "summary.json").read_text())["extra"]["reused_from_cache"] == {
        "trials": True
    }
    assert "reusing cached artifact" in (tmp_path / "run2" / "sepsim.log").read_text()
    # precision changes the numbers: a float32 run must not reuse the float64 artifact
    _sepsim([*SMALL, "hydra.run.dir=run3", "runtime.precision=float32"], tmp_path)
    third = json.loads((tmp_path / "run3" / "summary.json").read_text())
    assert third["extra"]["reused_from_cache"] == {"trials": False}


# the submitit launcher (the SLURM path's local twin) runs by default; the basic launcher's twin is slow-marked
@pytest.mark.parametrize("launcher", [pytest.param("basic", marks=pytest.mark.slow), "submitit_local"])
def test_two_by_two_sweep_merges_with_swept_dims(tmp_path: Path, launcher: str):
    sweep = ["design.stopping.superiority=0.95,0.99", "scenario=adaptr_null,adaptr_alt", "hydra.sweep.dir=sw"]
    if launcher == "submitit_local":
        sweep += ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"]
    _sepsim(["-m", *SMALL, *sweep], tmp_path)
    merged, out = collect(tmp_path / "sw")
    assert out == tmp_path / "sw" / "merged.nc"
    assert merged.sizes["design_stopping_superiority"] == 2 and merged.sizes["scenario"] == 2
    assert merged["design_stopping_superiority"].attrs["long_name"].startswith("swept parameter design.stopping.")
    assert set(merged["scenario"].values) == {"adaptr_null", "adaptr_alt"}
    # each cell is its own run on the same trials (common random numbers): a stricter superiority threshold can
    # only declare superiority in a subset of the trials the looser one did
    p = (
        merged["p_superiority"].sel(stat="estimate")
        if "stat" in merged["p_superiority"].dims
        else merged["p_superiority"]
    )
    strict, loose = p.sel(design_stopping_superiority=0.99), p.sel(design_stopping_superiority=0.95)
    assert (strict <= loose).all()
    assert p.notnull().all()
    # sepsim-collect --report: the sweep report over the same runs (power / type-I error named per point)
    collect_main([str(tmp_path / "sw"), "--report"])
    page = (tmp_path / "sw" / "report" / "report.html").read_text()
    assert "Designs side by side" in page and "type-I error" in page and "power" in page
