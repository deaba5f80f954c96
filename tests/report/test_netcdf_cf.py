"""Every netCDF sepsim writes opens with plain ``xr.open_dataset`` and explains itself (CF long_name, units,
flag_values/flag_meanings for codes, _FillValue for sentinels); the sweep report over a merged sweep."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sepsim._io import atomic_to_netcdf
from sepsim.platform._operating.trials import operating_characteristics
from sepsim.platform._results.codes import ArmDecision, TrialOutcome
from sepsim.report import stratum_decisions, synthetic_results, write_sweep_report
from sepsim.report._cf import annotate_oc, annotate_results, check_cf, plain_name
from sepsim.report._decisions import decisions_dataset


def _open_plain(path: Path) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no decoding warning either (e.g. a time-like unit)
        with xr.open_dataset(path) as ds:
            return ds.load()


def _check_results_file(ds: xr.Dataset) -> None:
    assert check_cf(ds) == []
    assert list(ds["arm_decision"].attrs["flag_values"]) == [int(d) for d in ArmDecision]
    assert ds["arm_decision"].attrs["flag_meanings"].split() == [d.name.lower() for d in ArmDecision]
    assert ds["trial_outcome"].attrs["flag_meanings"].split() == [o.name.lower() for o in TrialOutcome]
    if "decision_look" in ds:  # -1 (no decision) is the fill value: NaN exactly where the arm has no decision
        none = ds["arm_decision"].values == int(ArmDecision.NONE)
        assert np.isnan(ds["decision_look"].values[none]).all() and np.isfinite(ds["decision_look"].values[~none]).all()


def test_results_and_oc_open_plain_with_cf_attributes(tmp_path):
    results = synthetic_results(n_trials=30, seed=4, looks=(60, 120), control_arm="placebo")
    oc = operating_characteristics(results)
    atomic_to_netcdf(annotate_results(results), tmp_path / "results.nc")
    atomic_to_netcdf(annotate_oc(oc), tmp_path / "oc.nc")
    _check_results_file(_open_plain(tmp_path / "results.nc"))
    back = _open_plain(tmp_path / "oc.nc")
    assert check_cf(back) == []
    assert back["sample_size_mean"].attrs["units"] == "patients" and back["p_decision"].attrs["units"] == "1"
    assert plain_name("design.stopping.superiority") == "design_stopping_superiority"


def test_check_cf_finds_what_is_missing():
    bad = xr.Dataset({"t": ("x", [1.0], {"units": "days since randomisation"}), "n": ("x", [1])})
    problems = check_cf(bad)
    assert "t: no long_name" in problems and "n: no units" in problems
    assert any("since" in p for p in problems)


def _point(superiority: float, truth: dict) -> xr.Dataset:
    results = synthetic_results(n_trials=40, seed=2, looks=(60, 120), true_mean=truth, control_arm="placebo",
                                superiority=superiority)  # fmt: skip
    oc = operating_characteristics(results, n_boot=100)
    return oc.assign(decisions_dataset(stratum_decisions(results)).data_vars)


def test_sweep_report_over_two_parameters(tmp_path):
    null = {"placebo": 0.3, "anakinra": 0.3}
    alt = {"placebo": 0.3, "anakinra": 0.1}
    parts = [
        _point(s, t).expand_dims(design_stopping_superiority=[s], scenario=[name])
        for s in (0.9, 0.99)
        for name, t in (("null", null), ("alt", alt))
    ]
    merged = xr.combine_by_coords(parts, combine_attrs="drop_conflicts")
    merged.attrs.update(swept="design_stopping_superiority,scenario", swept_keys="design.stopping.superiority,scenario")
    page = write_sweep_report(merged, tmp_path / "report")
    html = page.read_text()
    assert "Designs side by side" in html and html.count('src="data:image/png;base64,') == 2  # curves + heat maps
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    points = {
        (p["parameters"]["design_stopping_superiority"], p["parameters"]["scenario"]): p for p in summary["points"]
    }
    assert len(points) == 4
    assert points[(0.9, "null")]["strata"]["all"]["efficacy_meaning"] == "type-I error"
    assert points[(0.9, "alt")]["strata"]["all"]["efficacy_meaning"] == "power"
    for (s, name), p in points.items():
        eff = merged["efficacy"].sel(design_stopping_superiority=s, scenario=name, stratum="all")
        assert p["strata"]["all"]["efficacy"]["mean"] == eff.sel(stat="estimate").item()
    # a stricter threshold claims efficacy in a subset of the same trials (same seed: common random numbers)
    assert (
        points[(0.99, "alt")]["strata"]["all"]["efficacy"]["mean"]
        <= points[(0.9, "alt")]["strata"]["all"]["efficacy"]["mean"]
    )


def _every_nc(*dirs: Path) -> list[Path]:
    return sorted(p for d in dirs for p in d.rglob("*.nc"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=immunosep_parametric", "n_trials=20", "design.look_n=[40,80]", "scenario.n_patients=2000"],
        ["experiment=immunosep", "n_trials=20", "population.n_patients=160", "design.look_n=[10,20]"],
    ],
    ids=["scenario", "mechanistic"],
)
def test_every_file_a_run_writes_opens_plain(tmp_path, overrides):
    from sepsim.cli import compose_config
    from sepsim.config import validate
    from sepsim.pipeline import run_pipeline

    cache = tmp_path / "cache"
    cfg = validate(compose_config([*overrides, "runtime.progress=log", f"runtime.cache_dir={cache}"]))
    run_pipeline(cfg, tmp_path / "run")
    files = _every_nc(tmp_path / "run", cache)
    assert tmp_path / "run" / "results.nc" in files and any(p.parent == cache for p in files)
    for path in files:
        ds = _open_plain(path)
        assert check_cf(ds) == [], path.name
        if path.name == "results.nc" or path.name.startswith("trials-"):
            assert "flag_values" in ds["arm_decision"].attrs
    _check_results_file(_open_plain(tmp_path / "run" / "results.nc"))
    page = (tmp_path / "run" / "report.html").read_text()
    assert ("Virtual cohort" in page) is ("experiment=immunosep" in overrides)


def test_model_state_units_open_plain(tmp_path):
    """Every unit the outcome table writes for a model state round-trips through netCDF and a plain
    ``xr.open_dataset``: a CF time unit ("h since ...") would be decoded as a calendar time and fail to open
    (regression: the ICU-acquired infection clock)."""
    from sepsim.models import STATE_NAMES, STATE_UNITS

    units = dict(zip(STATE_NAMES, STATE_UNITS, strict=True))
    ds = xr.Dataset({f"state_{n}": ("day", [1.0, 2.0], {"units": u}) for n, u in units.items()})
    path = tmp_path / "states.nc"
    atomic_to_netcdf(ds, path)
    with xr.open_dataset(path) as back:
        for name in ds:
            assert back[name].dtype == np.float64, name
            assert back[name].attrs["units"] == ds[name].attrs["units"], name
