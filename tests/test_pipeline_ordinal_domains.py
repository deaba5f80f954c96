"""The CLI pipeline on ordinal, factorial (domains) and calendar-day experiments: run directories, truths, reports,
and bad scenario configs refused before any work (ConfigError naming the key, nothing written)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf

from sepsim._errors import ConfigError
from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.pipeline import run_pipeline

FILES = ("config.yaml", "results.nc", "oc.nc", "summary.json", "report.html")
COMMON = ["runtime.progress=log", "runtime.cache=false", "scenario.n_patients=4000"]


def _run(overrides: list[str], run_dir: Path) -> dict:
    cfg = validate(compose_config([*COMMON, *overrides]))
    summary = run_pipeline(cfg, run_dir)
    for name in FILES:
        assert (run_dir / name).is_file(), name
    return summary


def _expected_mean_category(probs, odds_ratio):
    """Mean category under proportional odds, P(Y <= c) = logistic(logit F_c - log OR), by the exact formula."""
    cum = np.cumsum(probs)[:-1]
    odds = cum / (1 - cum) / odds_ratio
    cdf = np.concatenate([odds / (1 + odds), [1.0]])
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    return float(pmf @ np.arange(len(probs)))


def test_ordinal_experiment_runs_end_to_end(tmp_path: Path):
    run = tmp_path / "ord"
    summary = _run(["experiment=ordinal_platform", "n_trials=20", "design.look_n=[150,300]"], run)
    with xr.open_dataset(run / "results.nc", engine="h5netcdf") as res:
        assert res.sizes["trial"] == 20 and res.sizes["category"] == 3
        cats = res["n_category"].isel(look=-1).sum("category")
        assert (cats == res["n"].isel(look=-1)).all()  # every patient with an outcome is in one category
    with xr.open_dataset(run / "oc.nc", engine="h5netcdf") as oc:
        assert {"p_superiority", "p_decision", "sample_size_arm_mean"} <= set(oc.data_vars)
    truth = summary["true_mean"]["all"]
    probs = [0.30, 0.15, 0.55]  # conf/scenario/ordinal_day28.yaml
    for arm, odds in (("placebo", 1.0), ("anakinra", 1.5), ("ifn_gamma", 1.0)):
        assert truth[arm] == pytest.approx(_expected_mean_category(probs, odds), abs=1e-12)
    page = (run / "report.html").read_text()
    assert "Outcome categories" in page and "mean outcome category" in page and "true mean category" in page
    assert "expected events" not in page  # ordinal sums are not events


def _factorial_truth(control, immuno, adsorber):
    logit = np.log(control / (1 - control))
    return {
        f"{a}+{b}": 1 / (1 + np.exp(-(logit + ea + eb)))
        for a, ea in zip(("placebo", "anakinra"), immuno, strict=True)
        for b, eb in zip(("none", "cytosorb"), adsorber, strict=True)
    }


def test_factorial_experiment_via_cli_writes_per_domain_results(tmp_path: Path):
    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HYDRA_FULL_ERROR": "1"}
    args = [*COMMON, "experiment=factorial_domains", "n_trials=40", "hydra.run.dir=fac"]
    out = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run = tmp_path / "fac"
    for name in FILES:
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    expected = _factorial_truth(0.35, [0.0, -0.35], [0.0, 0.0])  # conf/scenario/factorial_alt.yaml
    assert summary["true_mean_combination"] == pytest.approx(expected, abs=1e-12)
    assert summary["per_domain"]["immuno"]["p_superiority_meaning"] == "power"
    assert summary["per_domain"]["adsorber"]["p_superiority_meaning"] == "type-I error"
    # marginal truth: the mean over equal shares of the other domain's arms
    anakinra = summary["per_domain"]["immuno"]["arms"]["anakinra"]["true_mean"]
    assert anakinra == pytest.approx((expected["anakinra+none"] + expected["anakinra+cytosorb"]) / 2, abs=1e-12)
    with xr.open_dataset(run / "results.nc", engine="h5netcdf") as res, xr.open_dataset(run / "oc.nc") as oc:
        assert res.sizes["domain"] == 2 and res.sizes["arm"] == 4 and "true_mean" in res
        # the OC figures recount from the per-trial decisions
        dec = res["arm_decision"].sel(domain="immuno").values
        p_sup = oc["p_superiority_domain"].sel(domain="immuno", stat="estimate").item()
        assert p_sup == pytest.approx(np.mean(dec[:, 1] == 1), abs=1e-12)
        n_arm = oc["sample_size_arm_mean"].sel(domain="adsorber", stat="estimate").values
        assert n_arm == pytest.approx(res["n_final"].sel(domain="adsorber").mean("trial").values, abs=1e-9)
        assert summary["headline"]["expected_sample_size"]["mean"] == pytest.approx(res["n_total"].mean().item())
    page = (run / "report.html").read_text()
    assert "domain immuno" in page and "domain adsorber" in page and "anakinra+cytosorb" in page
    assert {p.name for p in (run / "figures").glob("*.png")} >= {"allocation.png", "decisions.png", "stopping.png"}


def test_factorial_interaction_makes_a_domain_non_null():
    from sepsim.pipeline import factorial_rates
    from sepsim.platform import design_from_dict

    cfg = validate(compose_config([*COMMON, "experiment=factorial_domains", "scenario=factorial_null"]))
    design = design_from_dict(OmegaConf.to_container(cfg.design, resolve=True))
    sc = {"control_rate": 0.35, "domain_log_odds": {}, "interaction_log_odds": {"anakinra+cytosorb": -0.5}}
    rates = factorial_rates(sc, design)
    logit = np.log(0.35 / 0.65)
    assert rates == pytest.approx([0.35, 0.35, 0.35, 1 / (1 + np.exp(-(logit - 0.5)))], abs=1e-12)
    from sepsim.platform._operating.domains import _marginal_truth

    names = xr.Dataset(coords={"arm_name": (("domain", "domain_arm"), [["placebo", "anakinra"], ["none", "cytosorb"]])})
    truth, null = _marginal_truth(names, rates)
    assert not null.any()  # the interaction moves both domains' cytosorb/anakinra cells
    assert truth[0] == pytest.approx([0.35, (0.35 + rates[3]) / 2], abs=1e-12)
    _, null0 = _marginal_truth(names, np.full(4, 0.35))
    assert null0.all()


def test_calendar_experiment_report_shows_arm_windows_and_look_days(tmp_path: Path):
    run = tmp_path / "cal"
    _run(["experiment=calendar_platform", "n_trials=20"], run)
    page = (run / "report.html").read_text()
    assert "Calendar time" in page and "opens on day" in page and "<td>C</td><td>60</td>" in page
    with xr.open_dataset(run / "results.nc", engine="h5netcdf") as res:
        assert "look_time" in res and res.sizes["arm"] == 4


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["scenario.control_probs=[0.3,0.2,0.4]"], "scenario.control_probs: category probabilities must sum to 1"),
        (["scenario.control_probs=[0.5,0.5]"], "scenario.control_probs: needs design.analysis.n_categories=3"),
        (["scenario.odds_ratios=[1.0,1.5]"], "scenario.odds_ratios: needs one odds ratio per design arm (3)"),
        (["scenario.odds_ratios=[1.0,-1.5,1.0]"], "scenario.odds_ratios[1]: must be a positive"),
        (["scenario.kind=poisson"], "scenario.kind: must be one of binary, ordinal, factorial"),
        (
            ["scenario=adaptr_null"],
            "scenario.kind: design.analysis.model=proportional_odds needs scenario.kind=ordinal",
        ),
        (["scenario=factorial_alt"], "scenario.kind: a factorial scenario needs a design with design.domains"),
    ],
)
def test_bad_ordinal_scenario_is_named(overrides, expected):
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["experiment=ordinal_platform", *overrides]))
    assert expected in str(err.value)


def test_ordinal_platform_accepts_a_late_arm_with_concurrent_controls():
    # the proportional-odds analysis compares a late arm with its concurrent controls (pairwise fit)
    validate(compose_config(["experiment=ordinal_platform", "+design.arm_start_day=[0,0,90]"]))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["scenario.domain_log_odds.immuno=[0.0]"], "scenario.domain_log_odds.immuno: needs one log odds ratio"),
        (["+scenario.domain_log_odds.steroids=[0.0,1.0]"], "scenario.domain_log_odds.steroids: is not a domain"),
        (["scenario.control_rate=1.5"], "scenario.control_rate: must be a probability"),
        (["scenario=adaptr_null"], "scenario.rates: needs one rate per combination '<arm1>+<arm2>'"),
        (["scenario=ordinal_day28"], "scenario.kind: a design with domains analyses a binary outcome"),
    ],
)
def test_bad_factorial_scenario_is_named(overrides, expected):
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["experiment=factorial_domains", *overrides]))
    assert expected in str(err.value)


def test_ordinal_scenario_on_a_binary_design_is_refused():
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["experiment=adaptr", "scenario=ordinal_day28"]))  # adaptr's beta-binomial design
    assert "scenario.kind: an ordinal scenario needs design.analysis.model=proportional_odds" in str(err.value)


def test_cli_refuses_a_bad_ordinal_scenario_and_writes_nothing(tmp_path: Path):
    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    args = ["experiment=ordinal_platform", "scenario.control_probs=[0.3,0.2,0.4]"]
    out = subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert "scenario.control_probs: category probabilities must sum to 1" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_mechanistic_domains_need_one_arm_per_combination():
    with pytest.raises(ConfigError) as err:
        validate(compose_config(["experiment=factorial_domains", "outcomes=mechanistic", "+arms.placebo={}"]))
    assert "design.domains: outcomes=mechanistic with domains needs one arm per combination" in str(err.value)
    assert "anakinra+cytosorb" in str(err.value)


@pytest.mark.slow
def test_factorial_sweep_merges_per_domain_figures(tmp_path: Path):
    from sepsim.collect import collect

    exe = Path(sys.executable).with_name("sepsim")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    args = ["-m", *COMMON, "experiment=factorial_domains", "scenario=factorial_null,factorial_alt", "n_trials=40"]
    out = subprocess.run(
        [str(exe), *args, "hydra.sweep.dir=sw"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    merged, _ = collect(tmp_path / "sw")
    p = merged["p_superiority_domain"].sel(stat="estimate")
    assert p.sizes["scenario"] == 2 and p.sizes["domain"] == 2 and p.notnull().all()


def test_domains_of_unequal_size_pad_and_recount(tmp_path: Path):
    """A 3-arm domain beside a 2-arm one: padding arms are NaN in the OCs and absent from the report."""
    cfg = compose_config([*COMMON, "experiment=factorial_domains", "n_trials=30", "design.look_n=[200,400]"])
    cfg.design.domains[0].arms = ["placebo", "anakinra", "ifng"]
    cfg.scenario.domain_log_odds = {"immuno": [0.0, -0.35, 0.0]}
    run = tmp_path / "pad"
    summary = run_pipeline(validate(cfg), run)
    assert list(summary["per_domain"]["adsorber"]["arms"]) == ["none", "cytosorb"]
    assert list(summary["per_domain"]["immuno"]["arms"]) == ["placebo", "anakinra", "ifng"]
    with xr.open_dataset(run / "oc.nc", engine="h5netcdf") as oc, xr.open_dataset(run / "results.nc") as res:
        assert oc.sizes["domain_arm"] == 3
        pad = oc["sample_size_arm_mean"].sel(domain="adsorber", domain_arm=2)
        assert pad.isnull().all()
        share = oc["share_arm_mean"].sel(stat="estimate")
        assert share.sel(domain="immuno").sum().item() == pytest.approx(1.0, abs=1e-12)  # every patient once
        n_combo = res["n_combination"].values.reshape(-1, 3, 2)  # immuno slowest
        assert (n_combo.sum(axis=2) == res["n_final"].sel(domain="immuno").values).all()
    assert ">ifng<" in (run / "report.html").read_text()


def test_stratified_ordinal_scenario_builds_per_stratum_truth():
    from sepsim.pipeline import _outcomes_from_scenario
    from sepsim.platform import design_from_dict

    overrides = [
        "experiment=ordinal_platform",
        "+scenario.stratum_control_probs={mals:[0.5,0.2,0.3],other:[0.2,0.1,0.7]}",
        "+scenario.stratum_odds_ratios={mals:[1.0,2.0,1.0],other:[1.0,1.0,1.2]}",
        "+scenario.stratum_shares={mals:0.2,other:0.8}",
    ]
    cfg = validate(compose_config([*COMMON, *overrides]))
    design = design_from_dict(OmegaConf.to_container(cfg.design, resolve=True))
    table = _outcomes_from_scenario(cfg, design)
    assert table.strata == ("mals", "other") and table.arms == ("placebo", "anakinra", "ifn_gamma")
    truth = table.true_mean()  # (arm, stratum)
    assert truth[1, 0] == pytest.approx(_expected_mean_category([0.5, 0.2, 0.3], 2.0), abs=1e-12)
    assert truth[2, 1] == pytest.approx(_expected_mean_category([0.2, 0.1, 0.7], 1.2), abs=1e-12)
    share = table.stratum_mix()[0]  # 4000 patients: 3 binomial SE of 0.2 is 0.019
    assert abs(share - 0.2) < 3 * np.sqrt(0.2 * 0.8 / 4000)
    with pytest.raises(ConfigError, match="scenario.stratum_odds_ratios: per-stratum entries must name the same"):
        validate(compose_config([*overrides[:2], "+scenario.stratum_odds_ratios={mals:[1.0,2.0,1.0]}"]))
